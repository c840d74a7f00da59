package eventlog

import (
	"errors"
	"testing"

	"github.com/rs/zerolog"
)

// pebble's Fatalf never exits the process: it panics with a value that the
// read paths recover into ErrCorrupt, and other panics are left alone.
func TestFatalfDoesNotExit(t *testing.T) {
	read := func() (err error) {
		defer recoverFatal("act/x", &err)
		pebbleLogger{zerolog.Nop()}.Fatalf("checksum mismatch in %s", "000007.sst")
		return nil
	}
	err := read()
	var ce *CorruptError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) || ce.Stream != "act/x" {
		t.Fatalf("Fatalf became %v", err)
	}
	defer func() {
		if p := recover(); p != "other" {
			t.Fatalf("another panic became %v", p)
		}
	}()
	func() (err error) {
		defer recoverFatal("", &err)
		panic("other")
	}()
}
