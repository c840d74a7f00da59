package eventlog

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
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

// A failed WAL write is fatal to pebble's commit pipeline: there, and only
// there, the process still exits (a restart replays the WAL), rather than
// leave appends hanging behind a broken pipeline.
func TestAFailedCommitExits(t *testing.T) {
	toggle := &errorfs.Toggle{Injector: errorfs.ErrInjected.If(errorfs.And(errorfs.Writes, errorfs.PathMatch("db/*.log")))}
	l, err := Open("db", Options{FS: errorfs.Wrap(vfs.NewMem(), toggle), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	type exited struct{ code int }
	defer func(orig func(int)) { exit = orig }(exit)
	exit = func(code int) { panic(exited{code}) }
	append1 := func() (p any, err error) {
		defer func() { p = recover() }()
		_, err = l.Append(context.Background(), AppendRequest{Stream: "act/x", Events: []Draft{{Type: "e", Payload: []byte(`{}`)}}})
		return nil, err
	}
	toggle.On()
	p, err := append1()
	if p != (exited{1}) {
		t.Fatalf("a failed commit: error %v, panic %v; want exit(1)", err, p)
	}
}
