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
	// dummy is checked against unknown logins so that timing does not tell
	// which logins exist.
	dummy string
}

// Open reads the accounts file at path; a missing file is an empty store.
func Open(path string) (*Store, error) {
	s := &Store{path: path, dummy: HashPassword("no such notary, still hashed")}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) reload() error {
	st, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.byID = map[string]Notary{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if s.byID != nil && st.ModTime().Equal(s.mod) && st.Size() == s.size {
		return nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	var list []Notary
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("accounts: %s: %w", s.path, err)
	}
	byID := make(map[string]Notary, len(list))
	for _, n := range list {
		byID[n.Login] = n
	}
	s.byID, s.mod, s.size = byID, st.ModTime(), st.Size()
	return nil
}

// Authenticate returns the notary whose login and password match.
func (s *Store) Authenticate(login, password string) (Notary, error) {
	s.mu.Lock()
	if err := s.reload(); err != nil {
		s.mu.Unlock()
		return Notary{}, err
	}
	n, ok := s.byID[login]
	s.mu.Unlock()
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
	defer s.mu.Unlock()
	_ = s.reload()
	n, ok := s.byID[login]
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
	n.Hash, n.Created = HashPassword(password), now.UTC()
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	var list []Notary
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &list); err != nil {
			return fmt.Errorf("accounts: %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("accounts: %w", err)
	}
	kept := list[:0]
	for _, o := range list {
		if o.Login != n.Login {
			kept = append(kept, o)
		}
	}
	list = append(kept, n)
	sort.Slice(list, func(i, j int) bool { return list[i].Login < list[j].Login })
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
