package loadgen

import "golang.org/x/sys/unix"

// dataSync is fdatasync(2), as the server's WAL syncs when the kernel
// refuses asynchronous I/O.
func dataSync(fd int) error { return unix.Fdatasync(fd) }
