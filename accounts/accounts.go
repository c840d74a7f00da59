// Package accounts holds the notaries who sign in with a login and a
// password. Passwords are stored as argon2id hashes (RFC 9106's second
// recommended profile: 64 MiB, 3 passes) in data_dir/notaries.json, written
// by `senim notary add` and re-read by a running server when it changes.
package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/senim-kz/senim/domain/iin"
)

// Notary is one notary's account.
type Notary struct {
	Login string `json:"login"`
	Name  string `json:"name"`
	// IIN is the notary's own: their EDS must carry it to sign acts.
	IIN string `json:"iin"`
	// License is the notary's licence number, shown on documents.
	License string `json:"license,omitempty"`
	// Hash is "argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>".
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
	// Roles are the account's duties: RoleNotary, and the staff roles of
	// remote EDS issuance RoleRegistrar, RoleModerator. None (every account
	// made before roles existed): a notary only. Staff roles without
	// RoleNotary: staff only, never a notary.
	Roles []string `json:"roles,omitempty"`
}

// The roles an account may have.
const (
	// RoleNotary is the notary's: the notaries' desk, acts, the register.
	// An account with no roles has it.
	RoleNotary = "notary"
	// RoleRegistrar takes the registration video calls of applicants whose
	// phone is not in the mobile-citizen database.
	RoleRegistrar = "registrar"
	// RoleModerator reviews a Digital ID that failed liveness or the face match.
	RoleModerator = "moderator"
)

// ValidRole reports whether r is a role an account may have.
func ValidRole(r string) bool { return r == RoleNotary || StaffRole(r) }

// StaffRole reports whether r is a staff role of remote EDS issuance.
func StaffRole(r string) bool { return r == RoleRegistrar || r == RoleModerator }

// IsNotary reports whether the account acts as a notary: it has no roles
// (the default), or RoleNotary among them.
func (n Notary) IsNotary() bool {
	return len(n.Roles) == 0 || n.HasRole(RoleNotary)
}

// HasRole reports whether role is among the account's roles as written.
func (n Notary) HasRole(role string) bool {
	for _, r := range n.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// StaffRoles are the account's staff roles, in its order.
func (n Notary) StaffRoles() []string {
	var out []string
	for _, r := range n.Roles {
		if StaffRole(r) {
			out = append(out, r)
		}
	}
	return out
}

// ErrBadLogin is returned for an unknown login or a wrong password alike.
var ErrBadLogin = errors.New("accounts: wrong login or password")

var loginRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)

const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 4
	argonKeyLen  = 32
	minPassword  = 10
)

// HashPassword makes an argon2id hash with a fresh salt.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword compares a password with a hash in constant time.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "argon2id" || parts[1] != "v=19" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[3])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Store is the accounts file, re-read when it changes.
type Store struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	size int64
	byID map[string]Notary
	// onChange are called after the file's content changed (see OnChange).
	onChange []func()
	// dummy is checked against unknown logins so that timing does not tell
	// which logins exist.
	dummy string
}

// dummyHash is a fixed argon2id hash with the parameters of HashPassword,
// made once offline: hashing it at every start cost 170 ms and a 64 MiB
// allocation the process then kept.
const dummyHash = "argon2id$v=19$m=65536,t=3,p=4$ZPoWeoDBjOofDobnBvUcTw$8seJgPYU/jk7lOUc58zGIBfnmbnQbLM87rJgCr912Zs"

// Open reads the accounts file at path; a missing file is an empty store.
func Open(path string) (*Store, error) {
	s := &Store{path: path, dummy: dummyHash}
	if _, err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload re-reads the file if it changed and reports whether it did; s.mu
// is held (or s is not shared yet). A file that fails to parse keeps the
// last good accounts.
func (s *Store) reload() (bool, error) {
	st, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		changed := len(s.byID) > 0
		s.byID, s.mod, s.size = map[string]Notary{}, time.Time{}, 0
		return changed, nil
	}
	if err != nil {
		return false, fmt.Errorf("accounts: %w", err)
	}
	if s.byID != nil && st.ModTime().Equal(s.mod) && st.Size() == s.size {
		return false, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("accounts: %w", err)
	}
	var list []Notary
	if err := json.Unmarshal(data, &list); err != nil {
		return false, fmt.Errorf("accounts: %s: %w", s.path, err)
	}
	byID := make(map[string]Notary, len(list))
	for _, n := range list {
		byID[n.Login] = n
	}
	s.byID, s.mod, s.size = byID, st.ModTime(), st.Size()
	return true, nil
}

// OnChange registers fn to be called after the accounts file changed
// (found by Refresh or on use), so that the server can close the sessions
// of notaries no longer in it. fn runs after the store's lock is released
// and must not block.
func (s *Store) OnChange(fn func()) {
	s.mu.Lock()
	s.onChange = append(s.onChange, fn)
	s.mu.Unlock()
}

// Refresh re-reads the file if it changed and reports whether it did; a
// server calls it on a timer.
func (s *Store) Refresh() bool {
	s.mu.Lock()
	changed, _ := s.reload()
	s.mu.Unlock()
	s.changed(changed)
	return changed
}

// changed calls the OnChange functions when changed; s.mu is not held.
func (s *Store) changed(changed bool) {
	if !changed {
		return
	}
	s.mu.Lock()
	fns := s.onChange
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Authenticate returns the notary whose login and password match.
func (s *Store) Authenticate(login, password string) (Notary, error) {
	s.mu.Lock()
	changed, err := s.reload()
	if err != nil {
		s.mu.Unlock()
		return Notary{}, err
	}
	n, ok := s.byID[login]
	s.mu.Unlock()
	s.changed(changed)
	if !ok {
		CheckPassword(s.dummy, password)
		return Notary{}, ErrBadLogin
	}
	if !CheckPassword(n.Hash, password) {
		return Notary{}, ErrBadLogin
	}
	return n, nil
}

// Get returns a notary by login.
func (s *Store) Get(login string) (Notary, bool) {
	s.mu.Lock()
	changed, _ := s.reload()
	n, ok := s.byID[login]
	s.mu.Unlock()
	s.changed(changed)
	return n, ok
}

// Add creates or replaces a notary's account in the file at path, under an
// flock so that concurrent adds do not lose each other.
func Add(path string, n Notary, password string, now time.Time) error {
	if !loginRE.MatchString(n.Login) {
		return fmt.Errorf("accounts: login %q: 2-32 characters a-z 0-9 . _ -, starting with a letter", n.Login)
	}
	if _, err := iin.ParseIIN(n.IIN); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if strings.TrimSpace(n.Name) == "" {
		return errors.New("accounts: a name is required")
	}
	if len(password) < minPassword {
		return fmt.Errorf("accounts: the password needs at least %d characters", minPassword)
	}
	for _, r := range n.Roles {
		if !ValidRole(r) {
			return fmt.Errorf("accounts: role %q: want %s, %s or %s", r, RoleNotary, RoleRegistrar, RoleModerator)
		}
	}
	n.Hash, n.Created = HashPassword(password), now.UTC()
	return update(path, func(list []Notary) ([]Notary, error) {
		kept := list[:0]
		for _, o := range list {
			if o.Login != n.Login {
				kept = append(kept, o)
			}
		}
		return append(kept, n), nil
	}, func(n Notary) string { return n.Login })
}

// ErrNoSuchNotary is returned by Remove for a login not in the file.
var ErrNoSuchNotary = errors.New("accounts: no such notary")

// Remove deletes a notary's account from the file at path. A running server
// notices the change and closes that notary's sessions.
func Remove(path, login string) error {
	return update(path, func(list []Notary) ([]Notary, error) {
		kept := list[:0]
		for _, o := range list {
			if o.Login != login {
				kept = append(kept, o)
			}
		}
		if len(kept) == len(list) {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchNotary, login)
		}
		return kept, nil
	}, func(n Notary) string { return n.Login })
}

// update rewrites the file at path through fn, under an flock so that
// concurrent changes do not lose each other, and atomically (rename). The
// list is kept sorted by key so that the file diffs well.
func update[T any](path string, fn func([]T) ([]T, error), key func(T) string) error {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	var list []T
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("accounts: %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("accounts: %w", err)
	}
	list, err = fn(list)
	if err != nil {
		return err
	}
	sort.Slice(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}
