// Package registry is Senim's view of the state individuals registry
// (ГБД ФЛ): IIN to name, birth date and identity document. Acts take the
// parties' names from it, and a notary looks a person up during the
// identity checks.
//
// Sim is the embedded stand-in: people in a JSON file (data_dir/registry.json),
// which `senim dev issue` adds to. Like the real service it answers
// ErrNotFound for an IIN it does not know and ErrUnavailable while it is
// down (SetDown), and callers must handle both.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/nowake"
)

// Errors of a lookup.
var (
	// ErrNotFound: the registry has no person with that IIN.
	ErrNotFound = errors.New("registry: no person with that IIN")
	// ErrUnavailable: the registry did not answer; try again later.
	ErrUnavailable = errors.New("registry: unavailable")
)

// Document is an identity document.
type Document struct {
	Kind       string `json:"kind"` // "id_card" or "passport"
	Number     string `json:"number"`
	IssuedBy   string `json:"issued_by"`
	IssuedAt   string `json:"issued_at"`   // YYYY-MM-DD
	ValidUntil string `json:"valid_until"` // YYYY-MM-DD
}

// Person is one entry of the registry.
type Person struct {
	IIN        string   `json:"iin"`
	Surname    string   `json:"surname"`
	Name       string   `json:"name"`
	Patronymic string   `json:"patronymic,omitempty"`
	BirthDate  string   `json:"birth_date"` // YYYY-MM-DD
	Document   Document `json:"document"`
}

// FullName is surname, name and patronymic, in capitals as registries write them.
func (p Person) FullName() string {
	return strings.ToUpper(strings.TrimSpace(strings.Join([]string{p.Surname, p.Name, p.Patronymic}, " ")))
}

// Registry answers lookups by IIN.
type Registry interface {
	Lookup(ctx context.Context, id string) (Person, error)
}

// Sim is the file-backed stand-in.
type Sim struct {
	path string
	down atomic.Bool
	mu   sync.Mutex
	mod  time.Time
	size int64
	byID map[string]Person
}

// OpenSim opens the stand-in's file (missing: empty registry).
func OpenSim(path string) (*Sim, error) {
	s := &Sim{path: path}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetDown makes every lookup fail with ErrUnavailable, as an outage would.
func (s *Sim) SetDown(down bool) { s.down.Store(down) }

func (s *Sim) reload() error {
	// A raw statx (internal/nowake): every look-up checks the file, and
	// the runtime's entry for a system call woke its monitor thread.
	size, mod, err := nowake.StatFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		s.byID = map[string]Person{}
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if s.byID != nil && mod.Equal(s.mod) && size == s.size {
		return nil
	}
	people, err := readFile(s.path)
	if err != nil {
		return err
	}
	byID := make(map[string]Person, len(people))
	for _, p := range people {
		byID[p.IIN] = p
	}
	s.byID, s.mod, s.size = byID, mod, size
	return nil
}

// Lookup implements Registry.
func (s *Sim) Lookup(ctx context.Context, id string) (Person, error) {
	if s.down.Load() {
		return Person{}, ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return Person{}, ErrUnavailable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(); err != nil {
		return Person{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	p, ok := s.byID[id]
	if !ok {
		return Person{}, ErrNotFound
	}
	return p, nil
}

func readFile(path string) ([]Person, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	var people []Person
	if err := json.Unmarshal(data, &people); err != nil {
		return nil, fmt.Errorf("registry: %s: %w", path, err)
	}
	return people, nil
}

// Add puts a person in the stand-in's file (replacing one with the same
// IIN), under an flock, as `senim dev issue` does.
func Add(path string, p Person) error {
	id, err := iin.ParseIIN(p.IIN)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if p.Surname == "" || p.Name == "" {
		return errors.New("registry: a surname and a name are required")
	}
	if p.BirthDate == "" {
		p.BirthDate = id.BirthDate().Format(time.DateOnly)
	}
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	people, err := readFile(path)
	if err != nil {
		return err
	}
	kept := people[:0]
	for _, o := range people {
		if o.IIN != p.IIN {
			kept = append(kept, o)
		}
	}
	people = append(kept, p)
	sort.Slice(people, func(i, j int) bool { return people[i].IIN < people[j].IIN })
	data, err := json.MarshalIndent(people, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return os.Rename(tmp, path)
}
