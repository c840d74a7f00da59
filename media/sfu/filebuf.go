package sfu

import (
	"errors"
	"io"
	"os"
)

// bufferedFile buffers a recording's writes in a buffer of its own, not a
// bufio.Writer, so that a writer can put a frame together in it: the IVF
// writer copies each packet's payload straight into the buffer, after a
// frame header it patches in place once the frame's last packet gives its
// size (ivf.go), instead of assembling the frame elsewhere and copying it
// in whole; the Ogg writer builds each page where it goes (ogg.go).
//
// The buffer holds done bytes that are finished (whole frames, pages,
// headers: what Flush writes to the file) and after them the frame being
// put together, if any. When what comes does not fit, the finished bytes
// go to the file first and the open frame moves to the buffer's start; a
// frame larger than the buffer grows it. Close flushes and, for a file,
// syncs, so the file reaches the disk before it closes: a finished
// recording is named in the act's log, so it must outlive a crash that
// follows; an unfinished frame is left out, as the writers always left it.
type bufferedFile struct {
	w    io.Writer
	buf  []byte
	done int   // finished bytes at the buffer's start
	n    int64 // finished bytes written through it, for the room's budget
	err  error // the first write that failed: every later one fails too
}

func newBufferedFile(w io.Writer, size int) *bufferedFile {
	return &bufferedFile{w: w, buf: make([]byte, 0, size)}
}

var errNoSeek = errors.New("sfu: the recording's file cannot seek")

// Buffered is the finished bytes not yet in the file.
func (b *bufferedFile) Buffered() int { return b.done }

// Flush writes the finished bytes to the file.
func (b *bufferedFile) Flush() error {
	if b.err != nil || b.done == 0 {
		return b.err
	}
	if _, err := b.w.Write(b.buf[:b.done]); err != nil {
		b.err = err
		return err
	}
	b.buf = b.buf[:copy(b.buf, b.buf[b.done:])]
	b.done = 0
	return nil
}

// room makes room for n more bytes, flushing the finished ones if they
// are in the way.
func (b *bufferedFile) room(n int) error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf)+n > cap(b.buf) && b.done > 0 {
		return b.Flush()
	}
	return nil
}

// Write adds finished bytes. No frame may be open.
func (b *bufferedFile) Write(p []byte) (int, error) {
	if err := b.room(len(p)); err != nil {
		return 0, err
	}
	b.buf = append(b.buf, p...)
	b.done = len(b.buf)
	b.n += int64(len(p))
	return len(p), nil
}

// grow returns the next n bytes of the buffer, to be filled, as part of
// the open frame (or page).
func (b *bufferedFile) grow(n int) ([]byte, error) {
	if err := b.room(n); err != nil {
		return nil, err
	}
	at := len(b.buf)
	if at+n > cap(b.buf) {
		b.buf = append(b.buf, make([]byte, n)...) // larger than the buffer: it grows, once
	}
	b.buf = b.buf[:at+n]
	return b.buf[at:], nil
}

// add appends p to the open frame.
func (b *bufferedFile) add(p []byte) error {
	if err := b.room(len(p)); err != nil {
		return err
	}
	b.buf = append(b.buf, p...)
	return nil
}

// open is the open frame's bytes so far; valid until the next write.
func (b *bufferedFile) open() []byte { return b.buf[b.done:] }

// finish makes the open frame finished bytes. They stay where they are in
// the buffer until the next write.
func (b *bufferedFile) finish() {
	b.n += int64(len(b.buf) - b.done)
	b.done = len(b.buf)
}

// abandon drops the open frame.
func (b *bufferedFile) abandon() { b.buf = b.buf[:b.done] }

func (b *bufferedFile) Seek(off int64, whence int) (int64, error) {
	if err := b.Flush(); err != nil {
		return 0, err
	}
	s, ok := b.w.(io.Seeker)
	if !ok {
		return 0, errNoSeek
	}
	return s.Seek(off, whence)
}

// Close flushes the finished bytes (an open frame is left out), syncs a
// file and closes it.
func (b *bufferedFile) Close() error {
	b.abandon()
	err := b.Flush()
	if f, ok := b.w.(*os.File); ok && err == nil {
		err = f.Sync()
	}
	if c, ok := b.w.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
