// Package nowake makes the system calls of a server's hot path without
// waking the Go runtime's monitor thread.
//
// Go's runtime enters every system call made through package syscall (a
// socket's read, a file's write, fdatasync, stat) by way of entersyscall,
// in case the call blocks and its processor must be handed to another
// thread. On a server that goes idle between requests, the first such
// call after an idle spell also wakes the runtime's monitor thread
// (sysmon), which then polls every 20 µs for a millisecond or more before
// it sleeps again: a context switch each time. At `senim load acts --rate
// 30` that polling, and the threads it kept waking, were a tenth or more
// of the act server's CPU; in the SFU it was 18% (docs/sfu-cpu.md).
//
// The calls here never block for long, so they are made as raw system
// calls, which skip that entry:
//
//   - Read and Write of a non-blocking socket: they return EAGAIN rather
//     than wait, and the caller waits in the runtime's poller
//     (syscall.RawConn) as before.
//   - WriteFile, a write into a regular file's page cache.
//   - StatFile, the size and modification time of a file by its path.
//   - Syncer's Fdatasync, the one call here that does block: it is handed
//     to the kernel's asynchronous I/O (io_submit of IOCB_CMD_FDSYNC, run
//     by a kernel worker; the same vfs_fsync as fdatasync(2)), and its
//     completion is awaited in the runtime's poller through an eventfd.
//     No thread of the process blocks in the kernel for it.
//
// Elsewhere than Linux, and on a Linux that refuses asynchronous I/O
// (io_setup limited by fs.aio-max-nr, or filtered by seccomp), each falls
// back to the ordinary call.
package nowake
