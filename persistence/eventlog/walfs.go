package eventlog

import (
	"path/filepath"

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
type walFS struct {
	vfs.FS
	// newSyncer is nowake.NewSyncer (tests: a kernel that refuses AIO).
	newSyncer func() (*nowake.Syncer, error)
}

func newWALFS(fs vfs.FS) walFS { return walFS{FS: fs, newSyncer: nowake.NewSyncer} }

func (fs walFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(name, f, err)
}

func (fs walFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(newname, f, err)
}

// wrap makes a WAL file (pebble names them NNNNNN.log) a walFile. Where
// the kernel refuses asynchronous I/O the file is the OS's, as before.
func (fs walFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || f == nil || filepath.Ext(name) != ".log" {
		return f, err
	}
	s, serr := fs.newSyncer()
	if serr != nil {
		return f, nil
	}
	return &walFile{File: f, fd: f.Fd(), syncer: s}, nil
}

// walFile is a WAL file: raw writes, synced through a nowake.Syncer.
type walFile struct {
	vfs.File
	fd     uintptr
	syncer *nowake.Syncer
}

func (f *walFile) Write(p []byte) (int, error) { return nowake.WriteFile(f.fd, p) }

// SyncData is fdatasync(2), what pebble's WAL writer syncs with (its
// syncingFile's Sync is SyncData). Sync, a full fsync, pebble does not
// call on a WAL in the append path: it is the OS file's, as before.
func (f *walFile) SyncData() error { return f.syncer.Fdatasync(f.fd) }

func (f *walFile) Close() error {
	_ = f.syncer.Close()
	return f.File.Close()
}
