package eventlog

import (
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/senim-kz/senim/internal/nowake"
)

// The store's WAL is written and synced without waking the runtime's
// monitor thread: a log opened on the OS's filesystem has its WAL files
// synced through the kernel's AIO (every synced append, none refused),
// and what was appended is there after a reopen.
func TestWALSyncedQuietly(t *testing.T) {
	if _, ok := pebbleOptions(Options{}).FS.(walFS); !ok {
		t.Fatal("the store's filesystem is not the quiet WAL's")
	}
	fs, made := recordingWALFS(pebbleOptions(Options{}).FS.(walFS).FS)
	dir := t.TempDir()
	l, err := Open(dir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		mustAppend(t, l, AppendRequest{Stream: "act/w", ExpectedSeq: uint64(i), Events: []Draft{ev("step", i)}})
	}
	syncers := made()
	if len(syncers) == 0 {
		if _, err := nowake.NewSyncer(); err != nil {
			t.Skipf("this kernel refuses asynchronous I/O: %v", err)
		}
		t.Fatal("no WAL file was made quiet")
	}
	var aio, usual int64
	for _, s := range syncers {
		a, u := s.Stats()
		aio, usual = aio+a, usual+u
	}
	if aio < n || usual != 0 {
		t.Fatalf("%d WAL syncs through AIO, %d as usual, for %d synced appends", aio, usual, n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, dir)
	defer l.Close()
	if recs, err := l.ReadAll("act/w"); err != nil || len(recs) != n {
		t.Fatalf("after a reopen: %d records, %v; want %d", len(recs), err, n)
	}
}

// Where the kernel refuses asynchronous I/O the WAL is the OS's file,
// and appends are durable as ever.
func TestWALWithoutAIO(t *testing.T) {
	fs := newWALFS(vfs.Default)
	var refused atomic.Int32
	fs.syncers.newSyncer = func() (*nowake.Syncer, error) {
		refused.Add(1)
		return nil, errors.New("io_setup: resource temporarily unavailable")
	}
	dir := t.TempDir()
	l, err := Open(dir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, AppendRequest{Stream: "act/x", Events: []Draft{ev("opened", 1)}})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if refused.Load() == 0 {
		t.Fatal("no WAL file was made")
	}
	l = open(t, dir)
	defer l.Close()
	if recs, err := l.ReadAll("act/x"); err != nil || len(recs) != 1 {
		t.Fatalf("after a reopen: %d records, %v", len(recs), err)
	}
}

// A WAL file's Syncer is kept for the next WAL file: pebble closes the
// old WAL inside its rotation, while every commit waits, and closing a
// Syncer waits for the kernel (io_destroy: 20-50 ms here). Across rotations
// one Syncer syncs every WAL file, each through AIO; closing the log
// closes it.
func TestWALSyncerKeptAcrossRotations(t *testing.T) {
	fs, made := recordingWALFS(vfs.Default)
	l, err := Open(t.TempDir(), Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	const rotations = 5
	for i := range rotations {
		mustAppend(t, l, AppendRequest{Stream: "act/r", ExpectedSeq: uint64(i), Events: []Draft{ev("step", i)}})
		if err := l.Flush(); err != nil { // a new memtable, and a new WAL file
			t.Fatal(err)
		}
	}
	mustAppend(t, l, AppendRequest{Stream: "act/r", ExpectedSeq: rotations, Events: []Draft{ev("step", rotations)}})
	syncers := made()
	if len(syncers) == 0 {
		if _, err := nowake.NewSyncer(); err != nil {
			t.Skipf("this kernel refuses asynchronous I/O: %v", err)
		}
		t.Fatal("no WAL file was made quiet")
	}
	if len(syncers) != 1 {
		t.Fatalf("%d Syncers made for one WAL file at a time across %d rotations, want 1", len(syncers), rotations)
	}
	s := syncers[0]
	if aio, usual := s.Stats(); aio < rotations+1 || usual != 0 {
		t.Fatalf("%d WAL syncs through AIO, %d as usual, for %d synced appends", aio, usual, rotations+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "after")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := s.Fdatasync(f.Fd()); !errors.Is(err, nowake.ErrClosed) {
		t.Fatalf("the WAL's Syncer after the log closed: %v, want it closed", err)
	}
}

// recordingWALFS is a walFS on fs whose Syncers, as they are made, made
// returns.
func recordingWALFS(fs vfs.FS) (walFS, func() []*nowake.Syncer) {
	var mu sync.Mutex
	var syncers []*nowake.Syncer
	w := newWALFS(fs)
	w.syncers.newSyncer = func() (*nowake.Syncer, error) {
		s, err := nowake.NewSyncer()
		if err == nil {
			mu.Lock()
			syncers = append(syncers, s)
			mu.Unlock()
		}
		return s, err
	}
	return w, func() []*nowake.Syncer {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(syncers)
	}
}

// Every sync of the WAL is told to Options.SyncObserver, through AIO and
// where the kernel refuses it: n appends one after the other are n syncs
// at least (each append waits for its own), and the observer hears of
// each, after it is made. A store without an observer runs as before.
func TestWALSyncsObserved(t *testing.T) {
	for _, aio := range []bool{true, false} {
		fs, made := recordingWALFS(vfs.Default)
		if !aio {
			fs.syncers.newSyncer = func() (*nowake.Syncer, error) {
				return nil, errors.New("io_setup: resource temporarily unavailable")
			}
		}
		var observed atomic.Int64
		l, err := Open(t.TempDir(), Options{FS: fs, SyncObserver: func(d time.Duration) {
			if d < 0 {
				t.Errorf("a sync of %v", d)
			}
			observed.Add(1)
		}})
		if err != nil {
			t.Fatal(err)
		}
		const n = 10
		for i := range n {
			mustAppend(t, l, AppendRequest{Stream: "act/o", ExpectedSeq: uint64(i), Events: []Draft{ev("step", i)}})
		}
		if got := observed.Load(); got < n {
			t.Errorf("aio %v: %d WAL syncs observed for %d appends made one after the other", aio, got, n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if aio && len(made()) > 0 {
			var syncs int64
			for _, s := range made() {
				a, u := s.Stats()
				syncs += a + u
			}
			if syncs != observed.Load() {
				t.Errorf("%d syncs made through the Syncers, %d observed", syncs, observed.Load())
			}
		}
	}
}
