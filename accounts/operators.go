package accounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Operator is one account of the people who watch Senim run (the /ops
// dashboard). It is a kind apart from notaries: operators live in their own
// file (data_dir/operators.json), so a notary's password never opens /ops
// and an operator's never signs in on the websocket.
type Operator struct {
	Login string `json:"login"`
	Name  string `json:"name"`
	// Hash is "argon2id$v=19$m=65536,t=3,p=4$<salt>$<key>".
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
}

// ErrNoSuchOperator is returned by RemoveOperator for a login not in the file.
var ErrNoSuchOperator = errors.New("accounts: no such operator")

// Operators is the operators' file, re-read when it changes, so that `senim
// operator remove` takes effect on a running server's next sign-in check.
type Operators struct {
	path  string
	mu    sync.Mutex
	mod   time.Time
	size  int64
	byID  map[string]Operator
	dummy string
}

// OpenOperators reads the operators' file at path; a missing file is an
// empty store (nobody can open /ops until `senim operator add`).
func OpenOperators(path string) (*Operators, error) {
	s := &Operators{path: path, dummy: HashPassword("no such operator, still hashed")}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload re-reads the file if it changed; s.mu is held. A file that fails
// to parse keeps the last good accounts.
func (s *Operators) reload() error {
	st, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.byID, s.mod, s.size = map[string]Operator{}, time.Time{}, 0
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
	var list []Operator
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("accounts: %s: %w", s.path, err)
	}
	byID := make(map[string]Operator, len(list))
	for _, o := range list {
		byID[o.Login] = o
	}
	s.byID, s.mod, s.size = byID, st.ModTime(), st.Size()
	return nil
}

// Authenticate returns the operator whose login and password match; an
// unknown login costs the same argon2 work as a wrong password.
func (s *Operators) Authenticate(login, password string) (Operator, error) {
	s.mu.Lock()
	err := s.reload()
	o, ok := s.byID[login]
	s.mu.Unlock()
	if err != nil {
		return Operator{}, err
	}
	if !ok {
		CheckPassword(s.dummy, password)
		return Operator{}, ErrBadLogin
	}
	if !CheckPassword(o.Hash, password) {
		return Operator{}, ErrBadLogin
	}
	return o, nil
}

// Get returns an operator by login: a session of a removed operator ends.
func (s *Operators) Get(login string) (Operator, bool) {
	s.mu.Lock()
	_ = s.reload()
	o, ok := s.byID[login]
	s.mu.Unlock()
	return o, ok
}

// AddOperator creates or replaces an operator's account in the file at path.
func AddOperator(path string, o Operator, password string, now time.Time) error {
	if !loginRE.MatchString(o.Login) {
		return fmt.Errorf("accounts: login %q: 2-32 characters a-z 0-9 . _ -, starting with a letter", o.Login)
	}
	if strings.TrimSpace(o.Name) == "" {
		return errors.New("accounts: a name is required")
	}
	if len(password) < minPassword {
		return fmt.Errorf("accounts: the password needs at least %d characters", minPassword)
	}
	o.Hash, o.Created = HashPassword(password), now.UTC()
	return update(path, func(list []Operator) ([]Operator, error) {
		kept := list[:0]
		for _, x := range list {
			if x.Login != o.Login {
				kept = append(kept, x)
			}
		}
		return append(kept, o), nil
	}, func(o Operator) string { return o.Login })
}

// RemoveOperator deletes an operator's account from the file at path; their
// /ops sessions end at their next request.
func RemoveOperator(path, login string) error {
	return update(path, func(list []Operator) ([]Operator, error) {
		kept := list[:0]
		for _, x := range list {
			if x.Login != login {
				kept = append(kept, x)
			}
		}
		if len(kept) == len(list) {
			return nil, fmt.Errorf("%w: %q", ErrNoSuchOperator, login)
		}
		return kept, nil
	}, func(o Operator) string { return o.Login })
}
