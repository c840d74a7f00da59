package eventlog

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Checking the hashes of a verified read beside it. A binary record's hash
// is the SHA-256 of its stored bytes after the hash, so checking it needs
// nothing from the records before it: the reader checks each record's
// place in the chain (stream, seq, prev_hash) in order, and hands the
// stored bytes to the hash helper, a goroutine on the other processor,
// a chunk of records at a time, while it decodes the next ones and calls
// its callback. SHA-256 (with SHA-NI, about 220 ns for a 300-byte record)
// costs about half of a pebble step: on the reader's side, it was a third
// of a verified read's CPU; beside it, it costs the read a copy of the
// bytes.
//
// What the caller sees does not change: records come in order, and the
// error is the one the records would give checked one by one, in order.
// A record whose hash is wrong wins over any error at a later record (or
// at the same record's callback, which sees it before its hash is known:
// ReplayVerified's callers discard what they built on an error anyway).
//
// The helper is one goroutine for the process, shared by every read. A
// helper started for each read (as before) began late: waking a parked
// goroutine on an idle processor takes tens of microseconds, about as long
// as reading a whole act, so the reader ended up hashing four records in
// five itself. The shared helper is woken as soon as a verified read has
// its head (which says how many records are coming) and, once idle,
// lingers for
// helperLinger looking for the next chunk before it parks: reads one after
// another (loading acts, `senim check`) find it awake. A read of fewer
// than helpedRecords records does not wake it.
//
// The reader never waits for the helper. A chunk is queued; the helper
// claims it before hashing it; at the end the reader shares the chunk it
// was filling with the helper (splitTail), then claims every chunk of its
// own the helper has not, and hashes it itself. While the helper
// lags (two of the read's chunks waiting for it: the other processor
// busy), the reader checks each record itself as it comes, without a
// copy. A chunk the helper claimed but has not finished the reader waits
// for only briefly (claimWait), then hashes it too. On an idle machine the
// helper does most of the hashing beside the read; on a busy one the
// reader does most of it, as if there were no helper, instead of waiting
// for one that is not running.

// hashChunkBytes is about how many stored bytes a chunk carries: a dozen
// records of an act, so that the helper starts soon after the read. A
// hand-over (a pooled chunk, a queueing, a look at the state of the
// chunks queued before: cache lines moved between processors) cost the
// reader about 170 ns in a profile, most of what hashing a record does;
// chunks of 4 KiB spread it over twice the records that chunks of 2 KiB
// did. The last chunk, which the reader used to hash alone, it shares
// with the helper (splitTail). A record larger than
// maxChunkedRecord is hashed by the reader, in place, so that a chunk
// never outgrows its buffer.
const (
	hashChunkBytes   = 4 << 10
	maxChunkedRecord = 2 << 10
	// tailSplit is the fewest records of a read's last chunk that the
	// reader shares with the helper (splitTail).
	tailSplit = 4
	// helperLinger is how long the idle helper looks for another chunk
	// before it parks.
	helperLinger = 50 * time.Microsecond
	// helpedRecords is the fewest records a read hands to the helper.
	helpedRecords = 16
	// claimWait bounds how long a reader waits, at its end, for a chunk
	// the helper is hashing before it hashes the chunk itself: several
	// times what hashing a chunk takes (about 2.5 µs), so that a helper
	// at work is waited for, and one whose thread the system took away
	// costs the read little.
	claimWait = 10 * time.Microsecond
)

// A chunk's states. A chunk is the reader's (being filled) until it is
// queued; the helper or the reader then claims it, once: the helper
// marks it done when it has hashed it.
const (
	chunkFilling uint32 = iota
	chunkQueued
	chunkHelper // claimed by the helper
	chunkDone   // hashed by the helper; bad holds the result
	chunkReader // claimed by the reader back
)

// hashChunk is a run of a stream's binary records: their stored values,
// one after another in data, record i ending at ends[i], seq seqs[i].
type hashChunk struct {
	data  []byte
	ends  []int
	seqs  []uint64
	state atomic.Uint32
	// bad is the helper's answer, the first bad seq (0: none), read
	// once state is chunkDone.
	bad uint64
}

var hashChunks = sync.Pool{New: func() any { return &hashChunk{data: make([]byte, 0, hashChunkBytes+maxChunkedRecord)} }}

func getChunk() *hashChunk {
	ch := hashChunks.Get().(*hashChunk)
	ch.state.Store(chunkFilling)
	return ch
}

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

// putChunk keeps ch for another read; only a chunk nobody else can still
// read (the helper's done with it, or never had it) is put back.
func putChunk(ch *hashChunk) {
	ch.data, ch.ends, ch.seqs, ch.bad = ch.data[:0], ch.ends[:0], ch.seqs[:0], 0
	hashChunks.Put(ch)
}

// helper is the process's hash helper: queue carries chunks to it; running
// says whether it is up (started, not parked for good).
var helper = struct {
	queue   chan *hashChunk
	running atomic.Bool
}{queue: make(chan *hashChunk, 64)}

// wakeHelper starts the helper unless it is running. A read whose chunks
// the helper misses (it was just going) loses nothing: the reader hashes
// them itself at its end.
func wakeHelper() {
	if !helper.running.Load() && helper.running.CompareAndSwap(false, true) {
		go runHelper()
	}
}

// runHelper hashes the chunks queued until none has come for
// helperLinger.
func runHelper() {
	var idle time.Time
	spins := 0
	for {
		select {
		case ch := <-helper.queue:
			if ch.state.CompareAndSwap(chunkQueued, chunkHelper) {
				if hold := helperClaimed.Load(); hold != nil {
					(*hold)()
				}
				ch.bad = ch.firstBad()
				// The reader reads bad once it sees chunkDone; the helper
				// touches the chunk no more.
				ch.state.Store(chunkDone)
			}
			// Otherwise its reader took it back (and the chunk may be
			// another read's by now: not ours to touch).
			spins = 0
			continue
		default:
		}
		if spins == 0 {
			idle = time.Now()
		}
		spins++
		if spins%64 == 0 && time.Since(idle) > helperLinger {
			helper.running.Store(false)
			// A chunk queued as the helper was going finds no helper: go
			// on, unless another helper started meanwhile.
			if len(helper.queue) == 0 || !helper.running.CompareAndSwap(false, true) {
				return
			}
			spins = 0
			continue
		}
		if spins%16 == 0 {
			// Let the processor's other goroutines run while we look
			// (a yield takes the scheduler's lock: not at every look).
			runtime.Gosched()
			continue
		}
		// Look at the queue's length (no lock) for a while before the
		// next receive.
		for i := 0; i < 32 && len(helper.queue) == 0; i++ {
		}
	}
}

// hashChecker checks the hashes of one read's records (see above). Its
// zero value is ready; finish must be called once the read is over, or
// given up.
type hashChecker struct {
	cur *hashChunk
	// sent are the chunks queued to the helper and not yet reaped, in
	// order.
	sent []*hashChunk
	// inline: one processor, or a short read: every record is checked by
	// the reader.
	inline, started bool
	// found is the first bad seq of the chunks already settled.
	found uint64
}

// start wakes the helper for a read of about records records, about to
// begin, so that it is up by the read's first chunk; a read too short to
// give it more than a chunk or two is checked by the reader alone, in
// place, and wakes nobody.
func (h *hashChecker) start(records uint64) {
	h.started = true
	if runtime.GOMAXPROCS(0) < 2 || records < helpedRecords {
		h.inline = true
		return
	}
	wakeHelper()
}

// add queues the check of a binary record's hash: its seq, and its stored
// value (copied: the value may change once add returns). It returns
// false, queueing nothing, for a record larger than maxChunkedRecord: the
// caller checks that one itself.
func (h *hashChecker) add(seq uint64, stored []byte) bool {
	if len(stored) > maxChunkedRecord {
		return false
	}
	if !h.started {
		h.start(helpedRecords)
	}
	if h.cur == nil {
		if h.inline || h.lags() {
			// One processor, or the helper lags: the reader checks this
			// record itself, without copying it, until it catches up.
			if !storedHashOK(stored) {
				h.found = firstOf(h.found, seq)
			}
			return true
		}
		h.cur = getChunk()
	}
	ch := h.cur
	ch.data = append(ch.data, stored...)
	ch.ends = append(ch.ends, len(ch.data))
	ch.seqs = append(ch.seqs, seq)
	if len(ch.data) < hashChunkBytes {
		return true
	}
	h.cur = nil
	h.reap()
	if !h.offer(ch) {
		// The helper lags: this chunk is the reader's.
		h.check(ch)
	}
	return true
}

// offer hands ch to the helper; false: its queue is full (the helper
// lags), and ch stays the reader's.
func (h *hashChecker) offer(ch *hashChunk) bool {
	ch.state.Store(chunkQueued)
	select {
	case helper.queue <- ch:
		h.queued(ch)
		wakeHelper()
		return true
	default:
		return false
	}
}

// queued lists ch, just queued to the helper, in h.sent: made room for
// eight at the first (an act's read queues about as many), so that the
// list costs a read one allocation, not three or four as it grows.
func (h *hashChecker) queued(ch *hashChunk) {
	if h.sent == nil {
		h.sent = make([]*hashChunk, 0, 8)
	}
	h.sent = append(h.sent, ch)
}

// lags says whether the helper is behind this read: the chunk the read
// queued before its last is not claimed yet (the helper is not running,
// or busy with other reads' chunks), or the queue is full. Copying more
// records for it would only be wasted.
func (h *hashChecker) lags() bool {
	if n := len(h.sent); n >= 2 && h.sent[n-2].state.Load() == chunkQueued {
		return true
	}
	return len(helper.queue) == cap(helper.queue)
}

// reap settles the chunks at the front of sent that the helper is done
// with, so that a long read keeps few chunks.
func (h *hashChecker) reap() {
	n := 0
	for _, ch := range h.sent {
		if ch.state.Load() != chunkDone {
			break
		}
		h.found = firstOf(h.found, ch.bad)
		putChunk(ch)
		n++
	}
	if n > 0 {
		rest := copy(h.sent, h.sent[n:])
		clear(h.sent[rest:])
		h.sent = h.sent[:rest]
	}
}

// check checks a chunk of the reader's own.
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

// finish checks what is left and returns the seq of the first record
// whose hash is wrong (0: none); the helper reads nothing of this read's
// once it returns. Called again, it returns 0.
func (h *hashChecker) finish() uint64 {
	if h.cur != nil {
		// The last chunk, checked here while the helper finishes its own
		// (half of it: splitTail).
		h.splitTail(h.cur)
		h.cur = nil
	}
	// The chunks the helper has not claimed are the reader's, taken back,
	// so that the helper finds them claimed and leaves them.
	for i, ch := range h.sent {
		if ch.state.CompareAndSwap(chunkQueued, chunkReader) {
			h.sent[i] = nil // put back: another read's from now on
			h.check(ch)
		}
	}
	for _, ch := range h.sent {
		if ch == nil {
			continue
		}
		if ch.state.Load() != chunkDone {
			if !awaitHelper(ch) {
				// The helper stalled (its processor taken): the reader
				// hashes the chunk too, and leaves it to the collector.
				h.found = firstOf(h.found, ch.firstBad())
				continue
			}
		}
		h.found = firstOf(h.found, ch.bad)
		putChunk(ch)
	}
	clear(h.sent)
	h.sent = h.sent[:0]
	h.started, h.inline = false, false
	first := h.found
	h.found = 0
	return first
}

// splitTail checks ch, the read's last chunk (not queued: the read is
// over), sharing it with the helper if it holds tailSplit records or
// more: the first half is queued for the helper and the reader hashes the
// second half in place meanwhile. The reader then goes on as for the
// chunks queued before (finish): the half the helper has not claimed by
// then it takes back and hashes itself. (The reader hashed the whole
// chunk, half a chunk's records on average, alone at the end of every
// read.)
func (h *hashChecker) splitTail(ch *hashChunk) {
	k := len(ch.ends)
	if k < tailSplit {
		h.check(ch)
		return
	}
	half := k / 2
	// The second half, read here: the helper reads only the first
	// (ends[:half]), so that both only read the chunk's data.
	ends, seqs, start := ch.ends[half:], ch.seqs[half:], ch.ends[half-1]
	ch.ends, ch.seqs = ch.ends[:half], ch.seqs[:half]
	if !h.offer(ch) {
		// The queue is full: the helper lags. The chunk is the reader's.
		ch.ends, ch.seqs = ch.ends[:k], ch.seqs[:k]
		h.check(ch)
		return
	}
	for i, end := range ends {
		if !storedHashOK(ch.data[start:end]) {
			h.found = firstOf(h.found, seqs[i])
			break
		}
		start = end
	}
}

// awaitHelper waits, up to claimWait, for the helper to finish hashing ch;
// it says whether it did.
func awaitHelper(ch *hashChunk) bool {
	var since time.Time
	for spins := 0; ch.state.Load() != chunkDone; spins++ {
		if spins == 0 {
			since = time.Now()
		} else if spins%4 == 0 && time.Since(since) > claimWait {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// helperClaimed, if set, is called by the helper once it has claimed a
// chunk, before it hashes it (tests: a helper that stalls).
var helperClaimed atomic.Pointer[func()]
