package eventlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"
)

// Options configure a Log.
type Options struct {
	// FS is the filesystem; nil is the OS's. Tests pass vfs.NewCrashableMem().
	FS vfs.FS
	// Logger receives pebble's messages.
	Logger zerolog.Logger
	// ReadOnly opens the store without writing to it (senim check): no
	// compactions, no flush after replaying the WAL; appends fail.
	ReadOnly bool
	// HeadCache bounds how many streams the log keeps the head (and
	// command filter) of in memory; 0 is DefaultHeadCache. A stream past
	// it is read from the store again on its next append.
	HeadCache int
	// BlockCache is the bytes of the store's block cache (sstables' index,
	// filter and data blocks kept decompressed, outside Go's heap); 0 is
	// DefaultBlockCache. Too small a cache misses on nearly every read once
	// the tables' index and filter blocks outgrow it (docs/performance-cpu.md).
	BlockCache int64
	// AppendObserver, if set, is told how long each append waited for its
	// synced commit (its group's, and the one under way before it: see
	// group.go); the server feeds its metrics from it. It is called on the
	// appending goroutine and must not block.
	AppendObserver func(time.Duration)
	// SyncObserver, if set, is told how long each sync of the store's
	// write-ahead log took (its fdatasync: the disk's part of an append;
	// one sync covers a group of appends, and an append may wait for the
	// sync under way before its own). It is called on pebble's WAL writer
	// goroutine and must not block. Only a store on the OS's filesystem
	// observes its syncs (not one on an Options.FS of a test's own).
	SyncObserver func(time.Duration)
	// tune, if set, changes the pebble options last (tests and benchmarks:
	// a store written without filters, as before them).
	tune func(*pebble.Options)
}

// DefaultHeadCache is the streams whose heads a log keeps by default.
const DefaultHeadCache = 65536

// DefaultBlockCache is the store's block cache by default (pebble's own
// default is 8 MiB).
const DefaultBlockCache = 64 << 20

// stripes is how many locks (and head caches) the streams share.
const stripes = 4096

// Log is an open event log. It is safe for concurrent use.
type Log struct {
	db *pebble.DB
	// stripes lock streams for appending (a stream hashes to a stripe)
	// and cache the heads of the streams written through them.
	stripes [stripes]stripe
	closed  atomic.Bool
	// inflight lets Close wait for appends under way.
	inflight sync.WaitGroup
	// group gathers concurrent appends into one synced batch (group.go).
	group groupCommitter
	// perStripe is how many heads a stripe caches (Options.HeadCache
	// spread over the stripes).
	perStripe int
	// observe is Options.AppendObserver.
	observe func(time.Duration)
	// syncers are the WAL files' Syncers (walfs.go), closed with the log;
	// nil on another filesystem.
	syncers *syncerPool
	// cache is the store's block cache (Options.BlockCache); the store
	// holds the reference that keeps it.
	cache *pebble.Cache
}

// stripe is a lock shared by the streams that hash to it, and the head
// cache of those streams. An entry changes only under the lock, after the
// commit that made it true. (A map per stripe instead of one sync.Map: no
// shared cache line and no boxing on the append path. An entry is a
// pointer, updated in place: an append looks its stream up once and
// hashes no key to store the new head.)
type stripe struct {
	sync.Mutex
	heads map[string]*streamHead
}

type streamHead struct {
	seq uint64
	// raw is the last record's hash (zeros: no record yet). Its hex is
	// spelled by the next append, in that append's buffer: a hex string
	// kept here would keep the buffer of the append it was cut from.
	raw [hashLen]byte
	// cmds filters the stream's command keys (cmdfilter.go); nil: the
	// stream holds none.
	cmds *cmdFilter
	// legacy: the head was read from 'h' (the stream was last appended to
	// before heads moved before the first event): the next append marks
	// 'h' as moved (movedHead).
	legacy bool
}

// movedHead is the value of a stream's 'h' key once its head is kept
// before its first event. It lists the stream and is no head: a version
// from before heads moved reads it as a corrupt head and refuses the
// stream (it fails closed) rather than append onto a head it would find
// behind.
var movedHead = []byte{0}

// Open opens (creating if needed) the log in dir.
func Open(dir string, opts Options) (*Log, error) {
	po := pebbleOptions(opts)
	size := opts.BlockCache
	if size <= 0 {
		size = DefaultBlockCache
	}
	// The store holds its own reference to the cache; this one is let go
	// once it is open (or failed to), so the cache is freed with the store.
	po.Cache = pebble.NewCache(size)
	defer po.Cache.Unref()
	var syncers *syncerPool
	if fs, ok := po.FS.(walFS); ok {
		syncers = fs.syncers
	}
	db, err := openDB(dir, po)
	if err != nil {
		syncers.close()
		return nil, fmt.Errorf("eventlog: open %s: %w", dir, err)
	}
	n := opts.HeadCache
	if n <= 0 {
		n = DefaultHeadCache
	}
	return &Log{db: db, perStripe: max(1, (n+stripes-1)/stripes), observe: opts.AppendObserver, syncers: syncers, cache: po.Cache}, nil
}

// pebbleOptions are the store's pebble options. Every level's sstables get
// a bloom filter (10 bits a key, about 1% false positives): the command
// look-up of every append is a point get that, without one, reads a block
// of every sstable whose key range covers the key, and is mostly a miss (a
// new command id). A filter is per sstable and only read, never required:
// sstables written before carry none and are searched as before, and a
// store written with filters opens and reads the same without them.
func pebbleOptions(opts Options) *pebble.Options {
	po := &pebble.Options{Logger: pebbleLogger{opts.Logger}, EventListener: corruptionListener(opts.Logger), ReadOnly: opts.ReadOnly}
	if opts.FS != nil {
		po.FS = opts.FS
	} else {
		po.FS = newWALFS(vfs.Default)
	}
	if fs, ok := po.FS.(walFS); ok && opts.SyncObserver != nil {
		fs.observe = opts.SyncObserver
		po.FS = fs
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	if opts.tune != nil {
		opts.tune(po)
	}
	return po
}

// openDB is pebble.Open, with a Fatalf during the open (a damaged MANIFEST)
// returned as an error.
func openDB(dir string, po *pebble.Options) (db *pebble.DB, err error) {
	defer recoverFatal("", &err)
	db, err = pebble.Open(dir, po)
	if err != nil && pebble.IsCorruptionError(err) {
		err = storeErr("", err)
	}
	return db, err
}

// Flush writes what is only in the WAL and memtable to sstables (tests
// that damage sstables, and operators before a backup).
func (l *Log) Flush() (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal("", &err)
	return storeErr("", l.db.Flush())
}

// Close waits for appends under way, then closes the store.
func (l *Log) Close() error {
	if l.closed.Swap(true) {
		return ErrClosed
	}
	l.inflight.Wait()
	err := l.db.Close()
	l.syncers.close()
	return err
}

// IndexOp adds or removes the secondary-index entry (Index, Value) → the
// appended stream, in the same batch as the events.
type IndexOp struct {
	Index, Value string
	Delete       bool
}

// AppendRequest is one atomic append.
type AppendRequest struct {
	Stream string
	// ExpectedSeq is the last seq the caller has seen; 0 for a new stream.
	ExpectedSeq uint64
	// CommandID is the client-chosen id of the command that produced the
	// events; "" means no idempotency (system events).
	CommandID string
	// CommandActor is who sent the command ("client:871008401427",
	// "system"). An id is its sender's own: the same id from two actors
	// names two commands, so no party can pre-empt another's command (or
	// the system's) by guessing its id.
	CommandActor string
	// CommandDigest identifies what the command asked (the act shell hashes
	// its name and body). A repeated id whose digest differs from the stored
	// one is refused with ErrIDReused instead of answered as a duplicate;
	// "" skips the comparison.
	CommandDigest string
	Events        []Draft
	Index         []IndexOp
	// TrustedPayloads says that every event's Payload is the output of
	// json.Marshal in this process: valid, compact JSON, so Append stores
	// it without checking it again (at many writers the check was a tenth
	// of an append's CPU). The hash chain covers the stored bytes all the
	// same. Payloads that came from outside the process must never be
	// marked trusted: they are checked and compacted. The records handed
	// back keep a trusted payload's bytes (the caller's own, which it must
	// not change); an untrusted one's are a copy.
	TrustedPayloads bool
}

// AppendResult is what was stored.
type AppendResult struct {
	// Records are the stored records; for a duplicate, the ones the command
	// id first produced.
	Records []Record
	// Duplicate: the command id had been applied to this stream already and
	// nothing was written.
	Duplicate bool
}

const sep = 0x00

func eventKey(stream string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(appendStreamPrefix(make([]byte, 0, len(stream)+10), stream), seq)
}

func streamPrefix(stream string) []byte { return appendStreamPrefix(nil, stream) }

// appendStreamPrefix appends the prefix of a stream's event keys.
func appendStreamPrefix(b []byte, stream string) []byte {
	return append(append(append(b, 'e'), stream...), sep)
}
func headKey(stream string) []byte { return append([]byte{'h'}, stream...) }
func commandKey(stream, actor, id string) []byte {
	k := append(append([]byte{'c'}, stream...), sep)
	k = append(append(k, actor...), sep)
	return append(k, id...)
}

// legacyCommandKey is the command record's key before ids were scoped by
// actor ('c' stream 0x00 id). Logs written then still hold such keys; they
// are read, never written. A legacy key cannot equal a current one: its id
// holds no 0x00, a current key has two after the stream.
func legacyCommandKey(stream, id string) []byte {
	return append(append(append([]byte{'c'}, stream...), sep), id...)
}

// streamBounds returns eventKey(stream, 0) and upper(streamPrefix(stream)),
// sharing one allocation (each capacity-cut: pebble keeps them as they
// are).
func streamBounds(stream string) (lower, upperKey []byte) {
	n := len(stream) + 2
	b := make([]byte, 0, n+8+n)
	lower = binary.BigEndian.AppendUint64(appendStreamPrefix(b, stream), 0)
	upperKey = bumpPrefix(appendStreamPrefix(b[n+8:n+8], stream))
	return lower[: n+8 : n+8], upperKey[:len(upperKey):len(upperKey)]
}

// upper is the smallest key after every key that starts with prefix.
func upper(prefix []byte) []byte { return bumpPrefix(bytes.Clone(prefix)) }

// bumpPrefix turns a prefix, in place, into the smallest key after every
// key that starts with it (nil: there is none).
func bumpPrefix(u []byte) []byte {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] < 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil
}

func (l *Log) stripe(stream string) *stripe {
	// FNV-1a, inline: hash/fnv's would allocate on every append.
	h := uint32(2166136261)
	for i := 0; i < len(stream); i++ {
		h ^= uint32(stream[i])
		h *= 16777619
	}
	return &l.stripes[h%uint32(len(l.stripes))]
}

func checkName(what, s string, empty bool) error {
	if s == "" && !empty {
		return invalid("%s is empty", what)
	}
	if strings.IndexByte(s, sep) >= 0 {
		return invalid("%s contains a 0x00 byte", what)
	}
	return nil
}

// validate checks req and sets payloads[i] (len(req.Events) of them) to
// event i's payload, compacted.
func (req *AppendRequest) validate(payloads [][]byte) error {
	if err := checkName("stream", req.Stream, false); err != nil {
		return err
	}
	if err := checkName("command id", req.CommandID, true); err != nil {
		return err
	}
	if err := checkName("command actor", req.CommandActor, true); err != nil {
		return err
	}
	if len(req.Events) == 0 {
		return invalid("no events")
	}
	for i, e := range req.Events {
		if e.Type == "" {
			return invalid("event %d has no type", i)
		}
		// RFC 3339 (the canonical bytes' time) has four-digit years.
		if y := e.At.UTC().Year(); y < 0 || y > 9999 {
			return invalid("event %d time %s is outside the years 0000-9999", i, e.At)
		}
		if req.TrustedPayloads {
			if len(e.Payload) == 0 {
				return invalid("event %d payload is empty", i)
			}
			payloads[i] = e.Payload
			continue
		}
		p, err := compactPayload(e.Payload)
		if err != nil {
			return invalid("event %d payload is not JSON", i)
		}
		payloads[i] = p
	}
	for _, op := range req.Index {
		if err := checkName("index", op.Index, false); err != nil {
			return err
		}
		if err := checkName("index value", op.Value, false); err != nil {
			return err
		}
	}
	return nil
}

// isCompact says whether valid JSON p has no whitespace outside its
// strings, i.e. whether json.Compact would leave it as it is. Strings (most
// of a payload) are skipped with bytes.IndexByte.
func isCompact(p []byte) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case ' ', '\t', '\r', '\n':
			return false
		case '"':
			// Find the closing quote: the first one not escaped, i.e. not
			// preceded by an odd run of backslashes.
			for {
				k := bytes.IndexByte(p[i+1:], '"')
				if k < 0 {
					return false
				}
				i += 1 + k
				bs := 0
				for j := i - 1; j >= 0 && p[j] == '\\'; j-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
			}
		}
	}
	return true
}

// compactPayload returns p compacted. A payload from json.Marshal (every
// caller's) is compact already: one validating scan and no copy.
func compactPayload(p []byte) ([]byte, error) {
	if !json.Valid(p) {
		return nil, errFormat
	}
	if isCompact(p) {
		return p, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Append stores req's events atomically and durably; see the package doc.
func (l *Log) Append(ctx context.Context, req AppendRequest) (AppendResult, error) {
	// The payloads of an append of a few events (most are of one) on the
	// stack.
	var few [4][]byte
	var payloads [][]byte
	if len(req.Events) <= len(few) {
		payloads = few[:len(req.Events)]
	} else {
		payloads = make([][]byte, len(req.Events))
	}
	if err := req.validate(payloads); err != nil {
		return AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	l.inflight.Add(1)
	defer l.inflight.Done()
	if l.closed.Load() {
		return AppendResult{}, ErrClosed
	}
	st := l.stripe(req.Stream)
	st.Lock()
	defer st.Unlock()

	head, err := l.cachedHead(st, req.Stream)
	// A new command id (the filter is sure) needs no look-up; a head that
	// does not read leaves the look-up to answer a retry, as before.
	maybe := err != nil
	if req.CommandID != "" && err == nil {
		if maybe, err = l.mayHold(head, req.Stream, req.CommandActor, req.CommandID); err != nil {
			return AppendResult{}, err
		}
	}
	if req.CommandID != "" && maybe {
		if commandLookups != nil {
			commandLookups()
		}
		cmd, recs, found, err := l.findCommand(req.Stream, req.CommandActor, req.CommandID)
		if err != nil {
			return AppendResult{}, err
		}
		if found {
			if cmd.Digest != "" && req.CommandDigest != "" && cmd.Digest != req.CommandDigest {
				return AppendResult{}, &IDReusedError{Stream: req.Stream, Actor: req.CommandActor, ID: req.CommandID}
			}
			return AppendResult{Records: recs, Duplicate: true}, nil
		}
	}
	if err != nil {
		return AppendResult{}, err
	}
	seq, prev := head.seq, head.raw
	if seq != req.ExpectedSeq {
		return AppendResult{}, &ConflictError{Stream: req.Stream, Expected: req.ExpectedSeq, Actual: seq}
	}
	// The append's writes, for its group's batch (group.go). Their keys
	// and values share one buffer, sized exactly: a part is cut with a
	// full slice expression, so that it could never run over the next
	// one. The buffer is a scratch, used again once the group is
	// committed (pebble's batch holds copies of the writes by then): the
	// records handed back keep nothing of it.
	size := (len(req.Events)+1)*(len(req.Stream)+10) + 1 + len(req.Stream) + 8 + 2*hashLen
	for i, e := range req.Events {
		size += v1Size(req.Stream, e.Type, e.Actor, req.CommandID, payloads[i])
	}
	if req.CommandID != "" {
		size += 3 + len(req.Stream) + len(req.CommandActor) + len(req.CommandID) + 16 + len(req.CommandDigest)
	}
	for _, op := range req.Index {
		size += 3 + len(op.Index) + len(op.Value) + len(req.Stream)
	}
	sc := scratches.Get().(*appendScratch)
	if cap(sc.buf) < size {
		sc.buf = make([]byte, 0, max(size, 1<<10))
	}
	buf := sc.buf[:0]
	part := func(n int) []byte {
		p := buf[len(buf) : len(buf) : len(buf)+n]
		buf = buf[:len(buf)+n]
		return p
	}
	// What the records keep, in a buffer of their own: the hashes in hex
	// and, for payloads checked here, their stored copies. (A trusted
	// payload is json.Marshal's output, never changed: the record keeps
	// the caller's bytes.) Each part is written once, so a string over it
	// never changes.
	keepSize := (len(req.Events) + 1) * 2 * hashLen
	if !req.TrustedPayloads {
		for _, p := range payloads {
			keepSize += len(p)
		}
	}
	keep := make([]byte, 0, keepSize)
	keepPart := func(n int) []byte {
		p := keep[len(keep) : len(keep)+n : len(keep)+n]
		keep = keep[:len(keep)+n]
		return p
	}
	hexString := func(sum *[hashLen]byte) string {
		hx := keepPart(2 * hashLen)
		hex.Encode(hx, sum[:])
		return unsafe.String(&hx[0], len(hx))
	}
	hash := ZeroHash
	if seq > 0 {
		hash = hexString(&prev)
	}
	ops := sc.ops[:0]
	recs := make([]Record, len(req.Events))
	for i, e := range req.Events {
		seq++
		r := Record{Stream: req.Stream, Seq: seq, Type: e.Type, Actor: e.Actor, At: e.At.UTC(),
			CommandID: req.CommandID, Payload: payloads[i], PrevHash: hash}
		val, sum := appendV1(part(v1Size(req.Stream, e.Type, e.Actor, req.CommandID, payloads[i])), &r, &prev)
		if req.TrustedPayloads {
			r.Payload = payloads[i][:len(payloads[i]):len(payloads[i])]
		} else {
			// The returned record's payload is a copy of the stored one,
			// not the caller's.
			r.Payload = append(keepPart(len(payloads[i]))[:0], payloads[i]...)
		}
		r.Hash = hexString(&sum)
		hash, prev = r.Hash, sum
		k := binary.BigEndian.AppendUint64(append(append(append(part(len(req.Stream)+10), 'e'), req.Stream...), sep), seq)
		ops = append(ops, batchOp{key: k, value: val})
		recs[i] = r
	}
	// The head, just before the stream's first event (seq 0), where a
	// verified read finds it with the records; and, on the stream's first
	// append, under 'h', which lists the streams (see the key layout).
	hk := binary.BigEndian.AppendUint64(append(append(append(part(len(req.Stream)+10), 'e'), req.Stream...), sep), 0)
	hv := append(binary.BigEndian.AppendUint64(part(8+2*hashLen), seq), hash...)
	ops = append(ops, batchOp{key: hk, value: hv})
	if req.ExpectedSeq == 0 || head.legacy {
		ops = append(ops, batchOp{key: append(append(part(1+len(req.Stream)), 'h'), req.Stream...), value: movedHead})
	}
	if req.CommandID != "" {
		k := part(3 + len(req.Stream) + len(req.CommandActor) + len(req.CommandID))
		k = append(append(append(append(append(append(k, 'c'), req.Stream...), sep), req.CommandActor...), sep), req.CommandID...)
		v := binary.BigEndian.AppendUint64(part(16+len(req.CommandDigest)), recs[0].Seq)
		v = binary.BigEndian.AppendUint64(v, seq)
		v = append(v, req.CommandDigest...)
		ops = append(ops, batchOp{key: k, value: v})
	}
	for _, op := range req.Index {
		k := part(3 + len(op.Index) + len(op.Value) + len(req.Stream))
		k = append(append(append(append(append(append(k, 'i'), op.Index...), sep), op.Value...), sep), req.Stream...)
		ops = append(ops, batchOp{key: k, del: op.Delete})
	}
	observe := l.observe
	var start time.Time
	if observe != nil {
		start = time.Now()
	}
	if req.CommandID != "" {
		// Before the commit, whatever its outcome: the filter may hold a
		// key the store does not, never the other way round.
		head.addCommand(req.CommandActor, req.CommandID)
	}
	err = l.commitInGroup(req.Stream, ops)
	// The group is committed (or given up): nothing reads the writes now.
	clear(ops)
	sc.buf, sc.ops = buf[:0], ops[:0]
	if cap(sc.buf) <= maxScratch {
		scratches.Put(sc)
	}
	if err != nil {
		return AppendResult{}, fmt.Errorf("eventlog: commit: %w", err)
	}
	head.seq, head.raw, head.legacy = seq, prev, false
	if observe != nil {
		observe(time.Since(start))
	}
	return AppendResult{Records: recs}, nil
}

// appendScratch is an append's writes: their bytes, and the list handed
// to the group. Appends reuse them (scratches).
type appendScratch struct {
	buf []byte
	ops []batchOp
}

var scratches = sync.Pool{New: func() any { return new(appendScratch) }}

// maxScratch bounds the buffer a scratch keeps for the next append: an
// append of many or large events uses one of its own, once.
const maxScratch = 64 << 10

// Command is a stored command record: the seqs of the events the command
// produced and the digest it was stored with ("" for records written
// before digests were kept).
type Command struct {
	First, Last uint64
	Digest      string
}

// Command returns the record of the command id sent by actor to stream, if
// it was applied. A record from before ids were scoped by actor counts when
// its events were made by the same actor.
func (l *Log) Command(stream, actor, id string) (Command, bool, error) {
	if l.closed.Load() {
		return Command{}, false, ErrClosed
	}
	cmd, _, found, err := l.findCommand(stream, actor, id)
	return cmd, found, err
}

// findCommand looks up a command record and reads the events it names.
func (l *Log) findCommand(stream, actor, id string) (Command, []Record, bool, error) {
	cmd, found, err := l.getCommand(commandKey(stream, actor, id))
	if err != nil {
		return Command{}, nil, false, err
	}
	legacy := false
	if !found {
		if cmd, found, err = l.getCommand(legacyCommandKey(stream, id)); err != nil || !found {
			return Command{}, nil, false, err
		}
		legacy = true
	}
	recs, err := l.readRange(stream, cmd.First, cmd.Last)
	if err != nil {
		return Command{}, nil, false, err
	}
	if legacy && (len(recs) == 0 || recs[0].Actor != actor) {
		// Another actor's command under the same id: not this one's.
		return Command{}, nil, false, nil
	}
	return cmd, recs, true, nil
}

func (l *Log) getCommand(key []byte) (Command, bool, error) {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return Command{}, false, nil
	}
	if err != nil {
		return Command{}, false, fmt.Errorf("eventlog: %w", err)
	}
	defer closer.Close()
	if len(v) < 16 {
		return Command{}, false, fmt.Errorf("eventlog: corrupt command record %q", key)
	}
	return Command{First: binary.BigEndian.Uint64(v[:8]), Last: binary.BigEndian.Uint64(v[8:16]), Digest: string(v[16:])}, true, nil
}

// cachedHead is Head from memory once a stream has been seen; call it under
// st, the stream's stripe, and change the entry only under it.
func (l *Log) cachedHead(st *stripe, stream string) (*streamHead, error) {
	if h, ok := st.heads[stream]; ok {
		return h, nil
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	seq, hash, legacy, err := headSource(l.db, stream)
	if err != nil {
		return nil, err
	}
	h := &streamHead{seq: seq, legacy: legacy}
	if seq > 0 || hash != "" {
		if h.raw, err = decodeHash("head hash", hash); err != nil {
			return nil, &ChainError{Stream: stream, Seq: seq, Reason: "the head does not decode"}
		}
		// A stream without a head has no command keys: every append
		// writes its command key and the head in one batch (so has every
		// version of Append), and nothing deletes a head. A new stream
		// (most streams whose head is read) costs no scan.
		if err := l.loadCommands(h, stream, 0); err != nil {
			return nil, err
		}
	}
	if st.heads == nil {
		st.heads = make(map[string]*streamHead)
	}
	// The cache is bounded: past its share, the stripe forgets another
	// stream, any one (a map's order is random). Nothing holds an entry
	// outside the stripe's lock, which is held here: the stream forgotten
	// is read from the store again on its next append.
	for other := range st.heads {
		if len(st.heads) < l.perStripe {
			break
		}
		delete(st.heads, other)
	}
	st.heads[stream] = h
	return h, nil
}

// Head returns a stream's last seq and hash; 0 and "" for an unknown stream.
func (l *Log) Head(stream string) (uint64, string, error) {
	if l.closed.Load() {
		return 0, "", ErrClosed
	}
	return headFrom(l.db, stream)
}

// headFrom is a stream's head: the one just before its first event, or,
// for a stream last appended to before heads were kept there, the one
// under 'h'.
func headFrom(from pebble.Reader, stream string) (uint64, string, error) {
	seq, hash, _, err := headSource(from, stream)
	return seq, hash, err
}

// headSource is headFrom, also saying whether the head came from 'h'.
func headSource(from pebble.Reader, stream string) (seq uint64, hash string, legacy bool, err error) {
	seq, hash, err = headAt(from, stream, eventKey(stream, 0))
	if err == nil && seq == 0 && hash == "" {
		seq, hash, err = headAt(from, stream, headKey(stream))
		if errors.Is(err, errHeadMoved) {
			// The two reads are two views of the store: the stream's first
			// append landed between them. It wrote the head before the
			// events and 'h' as moved in one batch, so the head is there
			// now. (A view that shows 'h' moved and no head is corrupt.)
			seq, hash, err = headAt(from, stream, eventKey(stream, 0))
			if err == nil && seq == 0 && hash == "" {
				err = fmt.Errorf("eventlog: stream %s: corrupt head", stream)
			}
			return seq, hash, false, err
		}
		return seq, hash, seq > 0 || hash != "", err
	}
	return seq, hash, false, err
}

// errHeadMoved: the 'h' key read holds movedHead, not a head.
var errHeadMoved = errors.New("the head is kept before the stream's events")

func headAt(from pebble.Reader, stream string, key []byte) (_ uint64, _ string, err error) {
	defer recoverFatal(stream, &err)
	v, closer, err := from.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", storeErr(stream, err)
	}
	defer closer.Close()
	if key[0] == 'h' && bytes.Equal(v, movedHead) {
		return 0, "", errHeadMoved
	}
	if len(v) < 8 {
		return 0, "", fmt.Errorf("eventlog: stream %s: corrupt head", stream)
	}
	return binary.BigEndian.Uint64(v[:8]), string(v[8:]), nil
}

// Read calls fn with each record of stream whose seq >= fromSeq, in order.
//
// A read that meets a damaged block returns a *CorruptError (ErrCorrupt),
// after the records before it; a record that does not decode is a
// *ChainError (ErrBrokenChain). The hashes and payloads of one read's
// records share blocks of at most 4 KiB: a field kept long after its
// record keeps its block alive.
func (l *Log) Read(stream string, fromSeq uint64, fn func(Record) error) error {
	return l.read(l.db, stream, fromSeq, false, func(r Record, _ []byte) error { return fn(r) })
}

// Replay is Read for a caller that decodes each record at once and keeps
// no payload: a record's Payload is the stored value itself, valid only
// until fn returns (copy what must outlive the call, bytes.Clone). Its
// strings (Stream, Type, Actor, CommandID, Hash, PrevHash) stay valid, as
// Read's do. Not copying the payload is most of what a replay allocates:
// act loads, `senim check` and exports go through it.
func (l *Log) Replay(stream string, fromSeq uint64, fn func(Record) error) error {
	return l.read(l.db, stream, fromSeq, true, func(r Record, _ []byte) error { return fn(r) })
}

// read is Read (borrow: Replay) from a store or a snapshot, also handing
// fn a binary record's stored value (nil for a JSON record), valid only
// during the call.
func (l *Log) read(from pebble.Reader, stream string, fromSeq uint64, borrow bool, fn func(Record, []byte) error) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	if fromSeq == 0 {
		fromSeq = 1
	}
	defer recoverFatal(stream, &err)
	it, err := from.NewIter(&pebble.IterOptions{LowerBound: eventKey(stream, fromSeq), UpperBound: upper(streamPrefix(stream))})
	if err != nil {
		return storeErr(stream, err)
	}
	defer it.Close()
	return each(it, stream, borrow, fn)
}

// each calls fn with the decoded record of every key of it, from the
// first: read's loop.
func each(it *pebble.Iterator, stream string, borrow bool, fn func(Record, []byte) error) error {
	return eachFrom(it, it.First(), stream, borrow, fn)
}

// eachFrom is each from where it is (valid: whether it is at a key).
func eachFrom(it *pebble.Iterator, valid bool, stream string, borrow bool, fn func(Record, []byte) error) error {
	d := getDecoder(stream, borrow)
	defer decoders.Put(d)
	var r Record
	for ; valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return storeErr(stream, err)
		}
		stored, err := d.decodeInto(&r, v)
		if err != nil {
			return undecodable(stream, it.Key(), err)
		}
		if err := fn(r, stored); err != nil {
			return err
		}
	}
	return storeErr(stream, it.Error())
}

// ReadAll returns every record of a stream.
func (l *Log) ReadAll(stream string) ([]Record, error) {
	var out []Record
	err := l.Read(stream, 1, func(r Record) error { out = append(out, r); return nil })
	return out, err
}

func (l *Log) readRange(stream string, first, last uint64) ([]Record, error) {
	var out []Record
	err := l.Read(stream, first, func(r Record) error {
		if r.Seq > last {
			return errStop
		}
		out = append(out, r)
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

var errStop = errors.New("stop")

// Streams calls fn with every stream whose name starts with prefix, sorted.
func (l *Log) Streams(prefix string, fn func(stream string) error) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal("", &err)
	p := headKey(prefix)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper(p)})
	if err != nil {
		return storeErr("", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(string(it.Key()[1:])); err != nil {
			return err
		}
	}
	return storeErr("", it.Error())
}

// Heads calls fn with every stream's head (its last seq and hash), sorted
// by stream, from one consistent view of the store.
func (l *Log) Heads(fn func(stream string, seq uint64, hash string) error) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal("", &err)
	// The streams are listed under 'h'; their heads are before their
	// first events (headFrom), read in the same snapshot.
	snap := l.db.NewSnapshot()
	defer snap.Close()
	p := []byte{'h'}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper(p)})
	if err != nil {
		return storeErr("", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		stream := string(it.Key()[1:])
		seq, hash, err := headFrom(snap, stream)
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				return err
			}
			return &ChainError{Stream: stream, Reason: "the head does not decode"}
		}
		if err := fn(stream, seq, hash); err != nil {
			return err
		}
	}
	return storeErr("", it.Error())
}

// Lookup returns the streams with the index entry (index, value), sorted.
func (l *Log) Lookup(index, value string) ([]string, error) {
	var out []string
	err := l.scan(append(append(append([]byte{'i'}, index...), sep), append([]byte(value), sep)...), func(_, stream string) error {
		out = append(out, stream)
		return nil
	})
	return out, err
}

// Scan calls fn with every entry of index whose value starts with
// valuePrefix, ordered by value then stream.
func (l *Log) Scan(index, valuePrefix string, fn func(value, stream string) error) error {
	return l.scan(append(append(append([]byte{'i'}, index...), sep), valuePrefix...), fn)
}

func (l *Log) scan(prefix []byte, fn func(value, stream string) error) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal("", &err)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper(prefix)})
	if err != nil {
		return storeErr("", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		parts := bytes.SplitN(it.Key()[1:], []byte{sep}, 3)
		if len(parts) != 3 {
			continue
		}
		if err := fn(string(parts[1]), string(parts[2])); err != nil {
			return err
		}
	}
	return storeErr("", it.Error())
}

// VerifyChain re-reads a stream and checks its hash chain, and that its head
// names the last record (`senim check` runs it over every stream). It
// keeps no record, so it borrows their payloads (ReplayVerified).
func (l *Log) VerifyChain(stream string) error {
	return l.ReplayVerified(stream, func(Record) error { return nil })
}

// ReadVerified returns every record of a stream after checking, as
// VerifyChain does, that they form an intact chain named by the head: acts
// are loaded through it, so a record altered on disk is found the moment
// its act is.
func (l *Log) ReadVerified(stream string) ([]Record, error) {
	var recs []Record
	if err := l.verifiedRead(stream, &recs, nil); err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs, nil
}

// ReplayVerified is ReadVerified for a caller that applies each record at
// once (an act's load): fn gets the records in order, each Payload valid
// only until fn returns, as Replay's. The chain is checked as the records
// go, and the head after the last: an error (a *ChainError, a
// *CorruptError, or fn's) can come after fn has been called, so the
// caller must discard whatever it built from the records before it.
func (l *Log) ReplayVerified(stream string, fn func(Record) error) error {
	return l.verifiedRead(stream, nil, fn)
}

// verifiedRead is ReadVerified (keep: the records are decoded into
// *keep, sized from the head, their payloads copied) and ReplayVerified
// (fn is called with each record, its payload borrowed).
//
// The head and the records are read through one iterator, which sees the
// store as it was when it was made: an append landing meanwhile cannot
// make them disagree (a snapshot and a Get of the head did the same, at
// the cost of a snapshot and a second look-up per read). The head is the
// iterator's first key, just before the stream's first event: one seek
// finds both. (It used to be under 'h', in another key range: a second
// seek, asking the sstables' filters of every level, 7 to 13% of a
// verified read.) A stream last appended to before heads were kept there
// has its head under 'h' only, read from there. The records' hashes are
// checked beside the read (verify.go).
func (l *Log) verifiedRead(stream string, keep *[]Record, fn func(Record) error) (err error) {
	if l.closed.Load() {
		return ErrClosed
	}
	defer recoverFatal(stream, &err)
	var hc hashChecker
	defer hc.finish()
	// The bounds, in one allocation: the head's key (the stream's
	// prefix, seq 0) and the key after the stream's last.
	lower, upperKey := streamBounds(stream)
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upperKey})
	if err != nil {
		return storeErr(stream, err)
	}
	defer it.Close()
	var seq uint64
	// headHash is the hash the head names, compared with the last
	// record's: copied into headHex, not made a string.
	var headHex [2 * hashLen]byte
	var headHash []byte
	valid := it.First()
	headInRange := valid && bytes.Equal(it.Key(), lower)
	if headInRange {
		v, err := it.ValueAndErr()
		if err != nil {
			return storeErr(stream, err)
		}
		var h []byte
		if seq, h, err = headFields(stream, v); err != nil {
			return err
		}
		headHash = append(headHex[:0], h...)
		valid = it.Next()
	} else {
		if err := it.Error(); err != nil {
			return storeErr(stream, err)
		}
		var hash string
		if seq, hash, err = headKeyThrough(it, stream); err != nil {
			return err
		}
		headHash = append(headHex[:0], hash...)
		it.SetBounds(eventKey(stream, 1), upperKey)
		valid = it.First()
	}
	hc.start(seq)
	var recs []Record
	if keep != nil && valid {
		// Sized from the head, which counts the records (bounded: the
		// head is not trusted until the records agree with it).
		recs = make([]Record, 0, min(seq, 1<<12))
	}
	d := getDecoder(stream, keep == nil)
	defer decoders.Put(d)
	// The head's count sizes the arena's blocks (a hint only: a wrong
	// head costs at most a block, maxSlab).
	d.left = seq
	var c chainCheck
	var n uint64
	var last string
	var one Record
	err = func() error {
		for ; valid; valid = it.Next() {
			v, err := it.ValueAndErr()
			if err != nil {
				return storeErr(stream, err)
			}
			// A kept record is decoded in its place in recs, not copied
			// there.
			r := &one
			if keep != nil {
				if len(recs) == cap(recs) {
					recs = slices.Grow(recs, 1)
				}
				recs = recs[:len(recs)+1]
				r = &recs[len(recs)-1]
			}
			stored, err := d.decodeInto(r, v)
			if err != nil {
				return undecodable(stream, it.Key(), err)
			}
			if n == 0 && r.Seq != 1 {
				return &ChainError{Stream: stream, Seq: 1, Reason: "the first record is missing"}
			}
			if r.Stream != stream {
				// Another stream's records, chain and all, copied under this one.
				return &ChainError{Stream: stream, Seq: r.Seq, Reason: "the record names another stream " + r.Stream}
			}
			if stored == nil {
				// A JSON record: its hash recomputed from its fields, here.
				if err := c.next(*r, nil); err != nil {
					return err
				}
			} else {
				if err := c.link(r); err != nil {
					return err
				}
				if !hc.add(r.Seq, stored) && !storedHashOK(stored) {
					return altered(stream, r.Seq)
				}
				c.advance(r)
			}
			n++
			last = r.Hash
			if fn != nil {
				if err := fn(*r); err != nil {
					return err
				}
			}
		}
		return storeErr(stream, it.Error())
	}()
	// A record whose hash is wrong comes before any error after it.
	if bad := hc.finish(); bad != 0 {
		return altered(stream, bad)
	}
	if err != nil {
		return err
	}
	if seq != n || (n > 0 && string(headHash) != last) {
		return &ChainError{Stream: stream, Seq: seq, Reason: "the head does not name the last record"}
	}
	if keep != nil {
		*keep = recs
	}
	return nil
}

// headKeyThrough reads the head key of stream through it (whose bounds it
// changes), and so in its view of the store: 0 and "" if there is none.
func headKeyThrough(it *pebble.Iterator, stream string) (uint64, string, error) {
	hk := make([]byte, 0, len(stream)+2)
	hk = append(append(hk, 'h'), stream...)
	it.SetBounds(hk, append(hk, 0))
	// A prefix seek (the prefix is the whole key: pebble's default
	// comparer) asks each sstable's bloom filter first, as a Get does: a
	// seek would read a block of every level whose key range covers the
	// head, and heads, rewritten by every append, are spread over all of
	// them.
	if !it.SeekPrefixGE(hk) {
		return 0, "", storeErr(stream, it.Error())
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, "", storeErr(stream, err)
	}
	return parseHead(stream, v)
}

// parseHead decodes a stored head: be64(seq) and the hash's hex.
func parseHead(stream string, v []byte) (uint64, string, error) {
	seq, h, err := headFields(stream, v)
	return seq, string(h), err
}

// headFields is parseHead with the hash left in v (no string made).
func headFields(stream string, v []byte) (uint64, []byte, error) {
	if len(v) < 8 {
		return 0, nil, fmt.Errorf("eventlog: stream %s: corrupt head", stream)
	}
	return binary.BigEndian.Uint64(v[:8]), v[8:], nil
}
