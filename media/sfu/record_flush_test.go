package sfu

import (
	"os"
	"testing"
	"time"
)

// The recorder's buffer reaches the file when it is full or flushEvery
// after the last flush, not at every drain of the ring: a few drains of a
// few packets leave the file as it was; the first drain past flushEvery,
// and the buffer filling up, write it out; finish writes the rest.
func TestRecordingFlushesBySizeAndTime(t *testing.T) {
	raw := vp8Packets(t, 3*ringSlots)
	rec, err := openRecorder(t.TempDir(), 1, "client:1", VP8, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		st, err := os.Stat(rec.path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	head := size() // the IVF header, on disk from the start
	next := 0
	feed := func(n int) {
		for i := 0; i < n; i++ {
			rec.add(raw[next%len(raw)], time.Now())
			next++
		}
	}
	rec.flushed = time.Now()
	for i := 0; i < 4; i++ {
		feed(10)
		rec.drain(false)
	}
	if got := size(); got != head || rec.out.Buffered() == 0 {
		t.Fatalf("after 4 drains within flushEvery: %d bytes in the file (header %d), %d buffered", got, head, rec.out.Buffered())
	}
	rec.flushed = time.Now().Add(-flushEvery)
	rec.drain(false)
	if got := size(); got <= head || rec.out.Buffered() != 0 {
		t.Fatalf("a drain flushEvery after the last flush: %d bytes in the file (header %d), %d still buffered", got, head, rec.out.Buffered())
	}

	// By size: the buffer goes to the file when full, whatever the time.
	rec.flushed = time.Now()
	before := size()
	for written := 0; written <= fileBuffer; written += 10 * len(raw[0]) {
		feed(10)
		rec.drain(false)
	}
	if got := size(); got < before+fileBuffer/2 {
		t.Fatalf("more than a buffer of packets drained: the file grew from %d to %d bytes", before, got)
	}

	go rec.run()
	got, err := rec.finish()
	if err != nil {
		t.Fatal(err)
	}
	if got.Packets != int64(next) || got.Bytes != size() {
		t.Fatalf("finished with %d packets and %d bytes; %d added, %d in the file", got.Packets, got.Bytes, next, size())
	}
}
