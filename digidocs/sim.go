package digidocs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/internal/safepath"
)

// Sim is the development stand-in of Digital documents: each person's
// documents are JSON files under dir/<iin>/<id>.json, paths built only
// through safepath. It runs only with digidocs.mode = "dev".
type Sim struct {
	dir  string
	mu   sync.Mutex
	fail atomic.Bool
}

// SetFailing makes every call fail with ErrUnavailable while on: the
// stand-in plays an outage, as a real service has them.
func (s *Sim) SetFailing(on bool) { s.fail.Store(on) }

// OpenSim opens (making it if need be) the stand-in's directory.
func OpenSim(dir string) (*Sim, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("digidocs: %w", err)
	}
	return &Sim{dir: dir}, nil
}

func (s *Sim) path(person string, id ...string) (string, error) {
	if _, err := iin.ParseIIN(person); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	elems := []string{person}
	for _, i := range id {
		if err := safepath.Check(i); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		elems = append(elems, i+".json")
	}
	p, err := safepath.Join(s.dir, elems...)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	return p, nil
}

// Save keeps doc for the person, replacing a document with the same id.
func (s *Sim) Save(_ context.Context, person string, doc Document) error {
	if s.fail.Load() {
		return ErrUnavailable
	}
	p, err := s.path(person, doc.ID)
	if err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("digidocs: %w", err)
	}
	// Written whole, then renamed: a crash never leaves half a document.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("digidocs: %w", err)
	}
	return os.Rename(tmp, p)
}

// List returns the person's documents without their data, newest first.
func (s *Sim) List(_ context.Context, person string) ([]Document, error) {
	if s.fail.Load() {
		return nil, ErrUnavailable
	}
	dir, err := s.path(person)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Document{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("digidocs: %w", err)
	}
	out := []Document{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		d, err := readDoc(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		d.Data = nil
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SavedAt.After(out[j].SavedAt) })
	return out, nil
}

// Open returns one of the person's documents with its data.
func (s *Sim) Open(_ context.Context, person, id string) (Document, error) {
	if s.fail.Load() {
		return Document{}, ErrUnavailable
	}
	p, err := s.path(person, id)
	if err != nil {
		return Document{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := readDoc(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Document{}, ErrNotFound
	}
	return d, err
}

func readDoc(p string) (Document, error) {
	var d Document
	b, err := os.ReadFile(p)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("digidocs: %s: %w", filepath.Base(p), err)
	}
	return d, nil
}
