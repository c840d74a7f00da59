package safepath

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestJoin(t *testing.T) {
	root := t.TempDir()
	good, err := Join(root, "0123456789abcdef0123456789abcdef", "call-1", "audio.ogg")
	if err != nil || good != filepath.Join(root, "0123456789abcdef0123456789abcdef", "call-1", "audio.ogg") {
		t.Fatalf("good path: %q %v", good, err)
	}
	for _, bad := range [][]string{
		{"../../../../tmp/x"}, {".."}, {"."}, {""}, {"a/b"}, {`a\b`}, {"a\x00b"}, {"ok", ".."}, {"/etc"},
	} {
		if p, err := Join(root, bad...); !errors.Is(err, ErrUnsafe) {
			t.Errorf("Join(%q) = %q, %v; want ErrUnsafe", bad, p, err)
		}
	}
	if _, err := Join("", "x"); !errors.Is(err, ErrUnsafe) {
		t.Errorf("empty root accepted")
	}
}
