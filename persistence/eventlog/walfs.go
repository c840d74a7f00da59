package eventlog

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/senim-kz/senim/internal/nowake"
)

// walFS is the OS's filesystem, with the write-ahead log's files written
// and synced without waking the Go runtime's monitor thread
// (internal/nowake): the WAL's write and fdatasync are the system calls
// every acknowledged append makes, and on a server idle between commands
// each woke that thread into 20 µs polling. A WAL's data is written into
// the page cache with a raw write(2), and synced by the kernel's
// asynchronous I/O (the same fdatasync, run by a kernel worker) while the
// appending goroutine waits in the runtime's poller. What is durable, and
// when an append returns, are as before: pebble's WAL writer syncs, and
// its appends wait, exactly as they did. Every other file of the store
// (tables, the manifest) is the OS's as before.
//
// A WAL file's Syncer goes back to the filesystem's pool when the file is
// closed, for the next WAL file: closing one (io_destroy) waits for a
// grace period of the kernel's RCU, 20-50 ms measured here, and pebble
// closes the old WAL inside its WAL rotation, every 4 MB of appends, while
// every commit waits. The Log closes the pool's Syncers when it closes.
//
// observe, if set (Options.SyncObserver), is told how long each of a WAL
// file's syncs took, AIO or not: the disk's part of a durable append.
type walFS struct {
	vfs.FS
	syncers *syncerPool
	observe func(time.Duration)
}

func newWALFS(fs vfs.FS) walFS {
	return walFS{FS: fs, syncers: &syncerPool{newSyncer: nowake.NewSyncer}}
}

// syncerPool keeps the Syncers of closed WAL files. A Syncer is not tied
// to a file: each sync names its descriptor, and a sync is finished when
// Fdatasync returns, so the next file's syncs find it as new.
type syncerPool struct {
	// newSyncer is nowake.NewSyncer (tests: a kernel that refuses AIO).
	newSyncer func() (*nowake.Syncer, error)
	mu        sync.Mutex
	free      []*nowake.Syncer
	closed    bool
}

// maxFreeSyncers bounds the pool: pebble has one WAL file open at a time
// (two with WAL failover, which is not enabled).
const maxFreeSyncers = 2

func (p *syncerPool) get() (*nowake.Syncer, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	return p.newSyncer()
}

// put takes back the Syncer of a closed WAL file; one the pool does not
// keep (closed, or full) is closed.
func (p *syncerPool) put(s *nowake.Syncer) {
	p.mu.Lock()
	if !p.closed && len(p.free) < maxFreeSyncers {
		p.free = append(p.free, s)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = s.Close()
}

// close closes the Syncers kept; those of WAL files still open are closed
// with their files. A nil pool (a store on another filesystem) has none.
func (p *syncerPool) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	free := p.free
	p.free, p.closed = nil, true
	p.mu.Unlock()
	for _, s := range free {
		_ = s.Close()
	}
}

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

// wrap makes a WAL file (pebble names them NNNNNN.log) a walFile. Where
// the kernel refuses asynchronous I/O the file is the OS's, as before
// (wrapped only to time its syncs, when they are observed).
func (fs walFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || f == nil || filepath.Ext(name) != ".log" {
		return f, err
	}
	s, serr := fs.syncers.get()
	if serr != nil {
		if fs.observe == nil {
			return f, nil
		}
		return &walFile{File: f, observe: fs.observe}, nil
	}
	return &walFile{File: f, fd: f.Fd(), syncer: s, pool: fs.syncers, observe: fs.observe}, nil
}

// walFile is a WAL file: raw writes, synced through a nowake.Syncer; or,
// where the kernel refused AIO (syncer nil), the OS's file with its syncs
// timed.
type walFile struct {
	vfs.File
	fd       uintptr
	syncer   *nowake.Syncer
	pool     *syncerPool
	observe  func(time.Duration) // walFS.observe
	returned bool                // the Syncer is back in the pool
}

func (f *walFile) Write(p []byte) (int, error) {
	if f.syncer == nil {
		return f.File.Write(p)
	}
	return nowake.WriteFile(f.fd, p)
}

// SyncData is fdatasync(2), what pebble's WAL writer syncs with (its
// syncingFile's Sync is SyncData). Sync, a full fsync, pebble does not
// call on a WAL in the append path: it is the OS file's, as before.
func (f *walFile) SyncData() error {
	if f.observe == nil {
		return f.syncData()
	}
	start := time.Now()
	err := f.syncData()
	f.observe(time.Since(start))
	return err
}

func (f *walFile) syncData() error {
	if f.syncer == nil {
		return f.File.SyncData()
	}
	return f.syncer.Fdatasync(f.fd)
}

func (f *walFile) Close() error {
	if f.syncer != nil && !f.returned {
		// Once: a second Close must not hand one Syncer to two files.
		f.returned = true
		f.pool.put(f.syncer)
	}
	return f.File.Close()
}
