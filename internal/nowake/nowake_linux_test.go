package nowake

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's structures are the kernel's sizes.
func TestAIOStructSizes(t *testing.T) {
	if a, b := unsafe.Sizeof(iocb{}), unsafe.Sizeof(ioEvent{}); a != 64 || b != 32 {
		t.Fatalf("iocb %d bytes, io_event %d; want 64 and 32", a, b)
	}
}

// A file's data written with WriteFile and synced through the kernel's
// AIO is the file's, and the sync completed there (not as the usual
// call); a sync allocates nothing.
func TestFdatasyncThroughAIO(t *testing.T) {
	s, err := NewSyncer()
	if err != nil {
		t.Skipf("this kernel refuses asynchronous I/O: %v", err)
	}
	defer s.Close()
	path := filepath.Join(t.TempDir(), "wal")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := bytes.Repeat([]byte("сенім "), 5000)
	if n, err := WriteFile(f.Fd(), data); err != nil || n != len(data) {
		t.Fatalf("WriteFile: %d, %v", n, err)
	}
	if err := s.Fdatasync(f.Fd()); err != nil {
		t.Fatal(err)
	}
	if s.syncs.Load() != 1 || s.fallbacks.Load() != 0 {
		t.Fatalf("%d syncs through AIO, %d as usual; want 1 and 0", s.syncs.Load(), s.fallbacks.Load())
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file holds %d bytes (%v), want the %d written", len(got), err, len(data))
	}
	if a := testing.AllocsPerRun(20, func() {
		if err := s.Fdatasync(f.Fd()); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per sync, want 0", a)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Fdatasync(f.Fd()); !errors.Is(err, ErrClosed) {
		t.Fatalf("a sync after Close: %v, want ErrClosed", err)
	}
}

// What the kernel's AIO does not take (a pipe has no fsync) is synced as
// usual, and that call's error is the caller's: nothing is reported
// synced that was not.
func TestFdatasyncRefusedFallsBack(t *testing.T) {
	s, err := NewSyncer()
	if err != nil {
		t.Skipf("this kernel refuses asynchronous I/O: %v", err)
	}
	defer s.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	err = s.Fdatasync(w.Fd())
	if !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("fdatasync of a pipe: %v, want EINVAL", err)
	}
	if s.fallbacks.Load() != 1 || s.syncs.Load() != 0 {
		t.Fatalf("%d syncs as usual, %d through AIO; want 1 and 0", s.fallbacks.Load(), s.syncs.Load())
	}
}

// Read and Write of a non-blocking socket move the bytes, and say EAGAIN
// rather than wait.
func TestReadWriteNonBlocking(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	buf := make([]byte, 64)
	if n, e := Read(uintptr(fds[1]), buf); e != syscall.EAGAIN || n != 0 {
		t.Fatalf("a read of an empty socket: %d, %v; want EAGAIN", n, e)
	}
	if n, e := Write(uintptr(fds[0]), []byte("qazaqstan")); e != 0 || n != 9 {
		t.Fatalf("write: %d, %v", n, e)
	}
	if n, e := Read(uintptr(fds[1]), buf); e != 0 || string(buf[:n]) != "qazaqstan" {
		t.Fatalf("read: %q, %v", buf[:n], e)
	}
	if n, e := Read(uintptr(fds[1]), nil); e != 0 || n != 0 {
		t.Fatalf("an empty read: %d, %v", n, e)
	}
}

// StatFile gives what os.Stat gives, and a missing file is fs.ErrNotExist.
func TestStatFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crl.der")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	size, mtime, err := StatFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if size != 10 || !mtime.Equal(st.ModTime()) {
		t.Fatalf("StatFile: %d bytes, %v; os.Stat: %d, %v", size, mtime, st.Size(), st.ModTime())
	}
	if _, _, err := StatFile(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, _, err := StatFile("a\x00b"); err == nil {
		t.Fatal("a path with a NUL byte was stat'ed")
	}
}
