// Package safepath is the one way Senim builds a filesystem path from
// request data (act ids, recording ids, invoice ids, upload names). Every
// element must be a single plain name: no separator, no "..", no NUL, not
// empty; and the joined path must stay under its root.
package safepath

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrUnsafe is returned for an element that could leave its root.
var ErrUnsafe = errors.New("safepath: unsafe path element")

// Check reports whether name is one plain path element.
func Check(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%w: %q", ErrUnsafe, name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("%w: %q contains a separator or NUL", ErrUnsafe, name)
	case len(name) > 255:
		return fmt.Errorf("%w: longer than 255 bytes", ErrUnsafe)
	}
	return nil
}

// Join returns root/elems..., after checking every element with Check and
// that the result lies under root.
func Join(root string, elems ...string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: empty root", ErrUnsafe)
	}
	for _, e := range elems {
		if err := Check(e); err != nil {
			return "", err
		}
	}
	cleanRoot := filepath.Clean(root)
	p := filepath.Join(append([]string{cleanRoot}, elems...)...)
	rel, err := filepath.Rel(cleanRoot, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q leaves %q", ErrUnsafe, p, cleanRoot)
	}
	return p, nil
}
