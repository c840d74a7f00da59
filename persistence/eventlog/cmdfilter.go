package eventlog

import (
	"bytes"

	"github.com/cockroachdb/pebble/v2"
)

// The command look-up of an append (is this command id already in the
// stream?) is mostly for an id that is new. Asked of pebble, a new id is
// two point gets (the key, then the legacy key), each a search of the
// memtables and a filter probe per sstable level: under `senim load acts`
// about a tenth of the server's CPU per act.
//
// So each stream whose head is cached keeps, beside it, a small bloom
// filter of the command keys the stream holds, current and legacy: built
// from one scan of the stream's command keys when its head is first read
// (cachedHead), and added to by every append that stores a command, before
// its commit. The filter only ever says "certainly new" or "maybe": a
// "maybe" asks pebble as before, so the answer stays exact. A false "new"
// cannot happen: the filter holds every command key of the stream, because
//
//   - the stream's appends, and the scan, run under the stream's stripe
//     lock, and only appends write command keys (no other code in the log
//     writes 'c' keys);
//   - the scan reads every command key stored when the head is cached (a
//     store is opened by one process: pebble's lock file); a stream with
//     no head is not scanned, as it has no command keys (each append
//     writes its command key and the head in one batch, and nothing
//     deletes a head);
//   - an append adds its key before its commit, whatever the commit's
//     outcome (a key added and not stored costs a "maybe", never a false
//     "new").
//
// A filter starts at 1024 bits (128 bytes) and holds about 10 bits a key:
// when a stream's keys outgrow that, the next look-up builds it again, four
// times as large, from a scan of the stream's command keys (a filter keeps
// no keys). So a new id is answered "maybe" about once in a hundred at any
// size, memory stays 1.25 to 5 bytes a command, and the scans add up to less
// than two reads of each key. The hash is FNV-1a with a final mix:
// deterministic, so a test of the filter cannot flake; ids that collide on
// purpose only cost their sender's own stream look-ups.

const (
	cmdFilterMinWords = 16 // 1024 bits
	cmdFilterProbes   = 7
	cmdFilterBitsAKey = 10
)

// cmdFilter is a bloom filter over a stream's command keys: (actor, id)
// for current keys, (legacyActor, id) for legacy ones; n is how many were
// added.
type cmdFilter struct {
	bits []uint64
	n    int
}

// legacyActor stands for "any actor" in the filter: a legacy key names no
// actor. No actor is spelled so (an actor holds no 0x00).
const legacyActor = "\x00"

func cmdHash(actor, id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(actor); i++ {
		h ^= uint64(actor[i])
		h *= 1099511628211
	}
	h ^= sep
	h *= 1099511628211
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	// splitmix64's finaliser: FNV's low bits mix poorly.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

func (f *cmdFilter) add(actor, id string) {
	h := cmdHash(actor, id)
	a, b := uint32(h), uint32(h>>32)|1
	m := uint32(len(f.bits) * 64)
	for i := uint32(0); i < cmdFilterProbes; i++ {
		bit := (a + i*b) % m
		f.bits[bit/64] |= 1 << (bit % 64)
	}
	f.n++
}

func (f *cmdFilter) has(actor, id string) bool {
	h := cmdHash(actor, id)
	a, b := uint32(h), uint32(h>>32)|1
	m := uint32(len(f.bits) * 64)
	for i := uint32(0); i < cmdFilterProbes; i++ {
		bit := (a + i*b) % m
		if f.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// full says whether the filter holds more keys than it was sized for.
func (f *cmdFilter) full() bool { return f.n*cmdFilterBitsAKey > len(f.bits)*64 }

// newCmdFilter returns a filter sized for n keys.
func newCmdFilter(n int) *cmdFilter {
	words := cmdFilterMinWords
	for words*64 < n*cmdFilterBitsAKey {
		words *= 4
	}
	return &cmdFilter{bits: make([]uint64, words)}
}

// mayHold says whether stream, whose head is h, may hold the command id
// sent by actor (under its own key, or a legacy one): false is certain.
// Call it under the stream's stripe lock.
func (l *Log) mayHold(h *streamHead, stream, actor, id string) (bool, error) {
	if h.cmds == nil {
		return false, nil
	}
	if h.cmds.full() {
		// Outgrown: build it again, larger, from the store.
		if err := l.loadCommands(h, stream, 4*h.cmds.n); err != nil {
			return false, err
		}
	}
	return h.cmds.has(actor, id) || h.cmds.has(legacyActor, id), nil
}

// addCommand puts the command key (actor, id) into the stream's filter.
func (h *streamHead) addCommand(actor, id string) {
	if h.cmds == nil {
		h.cmds = newCmdFilter(0)
	}
	h.cmds.add(actor, id)
}

// loadCommands sets h's filter to one holding every command key of stream
// in the store, sized for at least atLeast keys: one scan of the stream's
// command keys. A stream without any gets no filter.
func (l *Log) loadCommands(h *streamHead, stream string, atLeast int) (err error) {
	defer recoverFatal(stream, &err)
	if commandScans != nil {
		commandScans()
	}
	prefix := append(append([]byte{'c'}, stream...), sep)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper(prefix)})
	if err != nil {
		return storeErr(stream, err)
	}
	defer it.Close()
	var keys [][]byte
	for it.First(); it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()[len(prefix):]))
	}
	if err := it.Error(); err != nil {
		return storeErr(stream, err)
	}
	h.cmds = nil
	if len(keys) == 0 {
		return nil
	}
	f := newCmdFilter(max(len(keys), atLeast))
	for _, rest := range keys {
		actor, id := legacyActor, rest
		if i := bytes.IndexByte(rest, sep); i >= 0 {
			actor, id = string(rest[:i]), rest[i+1:]
		}
		f.add(actor, string(id))
	}
	h.cmds = f
	return nil
}

// commandScans, if set, is told of every scan of a stream's command keys
// (tests).
var commandScans func()

// commandLookups, if set, is told of every command look-up an append asks
// of the store (tests).
var commandLookups func()
