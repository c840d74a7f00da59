package eventlog

import (
	"runtime"
	"sync"
)

// Checking the hashes of a verified read beside it. A binary record's hash
// is the SHA-256 of its stored bytes after the hash, so checking it needs
// nothing from the records before it: the reader checks each record's
// place in the chain (stream, seq, prev_hash) in order, and hands the
// stored bytes to a hashChecker, which checks them on another goroutine,
// a chunk of records at a time, while the reader decodes the next ones
// and calls its callback. SHA-256 was about a third of a verified read's
// CPU; beside the reader it costs the read a copy of the bytes.
//
// What the caller sees does not change: records come in order, and the
// error is the one the records would give checked one by one, in order.
// A record whose hash is wrong wins over any error at a later record (or
// at the same record's callback, which sees it before its hash is known:
// ReplayVerified's callers discard what they built on an error anyway).
// A stream shorter than a chunk is checked by the reader itself, at the
// end, and so is the last chunk of any stream, while the helper finishes
// the one before.

// hashChunkBytes is about how many stored bytes a chunk carries: enough
// records that a hand-over costs little beside hashing them. A record
// larger than maxChunkedRecord is hashed by the reader (a copy would cost
// more than it saves), so a chunk never outgrows its buffer.
const (
	hashChunkBytes   = 8 << 10
	maxChunkedRecord = 2 << 10
)

// hashChunk is a run of a stream's binary records: their stored values,
// one after another in data, record i ending at ends[i], seq seqs[i].
type hashChunk struct {
	data []byte
	ends []int
	seqs []uint64
}

var hashChunks = sync.Pool{New: func() any { return &hashChunk{data: make([]byte, 0, hashChunkBytes+hashChunkBytes/2)} }}

// firstBad returns the seq of the first record whose hash is wrong, 0 if
// none is.
func (ch *hashChunk) firstBad() uint64 {
	start := 0
	for i, end := range ch.ends {
		if !storedHashOK(ch.data[start:end]) {
			return ch.seqs[i]
		}
		start = end
	}
	return 0
}

func putChunk(ch *hashChunk) {
	ch.data, ch.ends, ch.seqs = ch.data[:0], ch.ends[:0], ch.seqs[:0]
	hashChunks.Put(ch)
}

// hashChecker checks the hashes of one read's records (see above). Its
// zero value is ready; finish must be called once the read is over, or
// given up.
//
// The reader never waits for the helper: while the helper has no room
// for another chunk (it lags: the other processor is busy with other
// work), the reader checks each record itself as it comes, without a
// copy; a full chunk the helper has no room for is checked by the reader
// at once; and at the end the reader takes back the chunks the helper has
// not started. On an idle machine the helper does
// most of the hashing beside the read; on a busy one the reader does most
// of it itself, as if there were no helper, instead of waiting for one
// that is not running. The first bad seq is the least that either found
// (seqs only grow along a read, and a chunk holds a run of them).
type hashChecker struct {
	cur *hashChunk
	// work carries full chunks to the helper goroutine, started with the
	// first; bad brings back the first bad seq it found (0: none).
	work chan *hashChunk
	bad  chan uint64
	// inline: one processor, so full chunks are checked by the reader.
	inline bool
	// found is the first bad seq of the chunks the reader checked.
	found uint64
}

// add queues the check of a binary record's hash: its seq, and its stored
// value (copied: the value may change once add returns). It returns
// false, queueing nothing, for a record larger than maxChunkedRecord: the
// caller checks that one itself.
func (h *hashChecker) add(seq uint64, stored []byte) bool {
	if len(stored) > maxChunkedRecord {
		return false
	}
	if h.cur == nil {
		if h.work != nil && len(h.work) == cap(h.work) {
			// The helper lags: the reader checks this record itself,
			// without copying it, until the helper has room again.
			if !storedHashOK(stored) {
				h.found = firstOf(h.found, seq)
			}
			return true
		}
		h.cur = hashChunks.Get().(*hashChunk)
	}
	ch := h.cur
	ch.data = append(ch.data, stored...)
	ch.ends = append(ch.ends, len(ch.data))
	ch.seqs = append(ch.seqs, seq)
	if len(ch.data) < hashChunkBytes {
		return true
	}
	h.cur = nil
	if h.work == nil && !h.inline {
		if runtime.GOMAXPROCS(0) < 2 {
			h.inline = true
		} else {
			h.work, h.bad = make(chan *hashChunk, 2), make(chan uint64, 1)
			go checkChunks(h.work, h.bad)
		}
	}
	if !h.inline {
		select {
		case h.work <- ch:
			return true
		default:
			// The helper lags: this chunk is the reader's.
		}
	}
	h.check(ch)
	return true
}

// check checks a chunk on the reader's side.
func (h *hashChecker) check(ch *hashChunk) {
	h.found = firstOf(h.found, ch.firstBad())
	putChunk(ch)
}

// firstOf is the lesser of two bad seqs, 0 standing for none.
func firstOf(a, b uint64) uint64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// checkChunks checks the chunks it is sent until work is closed, then
// sends the first bad seq.
func checkChunks(work <-chan *hashChunk, bad chan<- uint64) {
	if helperStarted != nil {
		helperStarted()
	}
	first := uint64(0)
	for ch := range work {
		first = firstOf(first, ch.firstBad())
		putChunk(ch)
	}
	bad <- first
}

// finish checks what is left and returns the seq of the first record
// whose hash is wrong (0: none); the helper, if any, is done when it
// returns. Called again, it returns 0.
func (h *hashChecker) finish() uint64 {
	if h.cur != nil {
		// The last chunk, checked here while the helper finishes the ones
		// before.
		h.check(h.cur)
		h.cur = nil
	}
	if h.work != nil {
		// The chunks the helper has not taken yet are the reader's.
	take:
		for {
			select {
			case ch := <-h.work:
				h.check(ch)
			default:
				break take
			}
		}
		close(h.work)
		h.found = firstOf(h.found, <-h.bad)
		h.work, h.bad = nil, nil
	}
	first := h.found
	h.found = 0
	return first
}

// helperStarted, if set, is called by each helper as it starts (tests: a
// helper that is not running).
var helperStarted func()
