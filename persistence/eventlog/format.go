package eventlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"
	"unsafe"
)

// How a record is stored (see the package doc for the layout). The format
// exists for speed: replaying an act used to spend three quarters of its
// CPU in encoding/json, and appending a fifth in json.Marshal. Storing the
// canonical bytes themselves makes the hash cover exactly what is on disk,
// makes verifying a record one SHA-256 over a slice of its value, and makes
// decoding a walk over eight length-prefixed fields.

// formatV1 is the first byte of a record stored in the binary format. A
// record stored before it (JSON) starts with '{'.
const formatV1 byte = 0x01

const (
	hashLen = sha256.Size
	// v1Header is the version byte, the record's hash and its prev hash.
	v1Header = 1 + 2*hashLen
	// canonTag is the first netstring of CanonicalBytes.
	canonTag = "senim.event.v1"
)

var errFormat = errors.New("not a record of a known format")

type byteString interface{ ~string | ~[]byte }

func appendNetstring[T byteString](dst []byte, f T) []byte {
	dst = appendUint(dst, uint64(len(f)))
	dst = append(dst, ':')
	dst = append(dst, f...)
	return append(dst, ',')
}

func appendUint(dst []byte, n uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// appendCanonical appends the record's CanonicalBytes to dst.
func appendCanonical(dst []byte, stream string, seq uint64, typ, actor string, at time.Time, cmdID string, payload []byte) []byte {
	var num [20]byte
	var ts [48]byte
	dst = appendNetstring(dst, canonTag)
	dst = appendNetstring(dst, stream)
	dst = appendNetstring(dst, appendUint(num[:0], seq))
	dst = appendNetstring(dst, typ)
	dst = appendNetstring(dst, actor)
	dst = appendNetstring(dst, appendTime(ts[:0], at))
	dst = appendNetstring(dst, cmdID)
	return appendNetstring(dst, payload)
}

// appendTime appends t as time.RFC3339Nano spells it in UTC. Years
// 0000-9999 (all that Append stores) are spelled here, several times
// faster than AppendFormat; others are left to AppendFormat.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	h, mi, s := t.Clock()
	two := func(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(two(dst, y/100), y%100)
	dst = two(append(dst, '-'), int(mo))
	dst = two(append(dst, '-'), d)
	dst = two(append(dst, 'T'), h)
	dst = two(append(dst, ':'), mi)
	dst = two(append(dst, ':'), s)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [9]byte
		for i := 8; i >= 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 9
		for frac[n-1] == '0' {
			n--
		}
		dst = append(append(dst, '.'), frac[:n]...)
	}
	return append(dst, 'Z')
}

// v1Size bounds the size of a stored record with these fields: 160 holds
// the tag, the seq, the time and the eight netstrings' lengths.
func v1Size(stream, typ, actor, cmdID string, payload []byte) int {
	return v1Header + 160 + len(stream) + len(typ) + len(actor) + len(cmdID) + len(payload)
}

// encodeV1 returns r's stored form chained to prev, and its hash. r.Payload
// must be compact JSON; r.Hash and r.PrevHash are not read.
func encodeV1(r *Record, prev *[hashLen]byte) ([]byte, [hashLen]byte) {
	return appendV1(make([]byte, 0, v1Size(r.Stream, r.Type, r.Actor, r.CommandID, r.Payload)), r, prev)
}

// appendV1 is encodeV1 appending to dst, which must be empty.
func appendV1(dst []byte, r *Record, prev *[hashLen]byte) ([]byte, [hashLen]byte) {
	v := append(dst[:0], make([]byte, v1Header)...)
	v[0] = formatV1
	copy(v[1+hashLen:], prev[:])
	v = appendCanonical(v, r.Stream, r.Seq, r.Type, r.Actor, r.At, r.CommandID, r.Payload)
	sum := sha256.Sum256(v[1+hashLen:])
	copy(v[1:], sum[:])
	return v, sum
}

func decodeHash(what, s string) (h [hashLen]byte, err error) {
	if len(s) != 2*hashLen {
		return h, invalid("%s %q is not a hex SHA-256", what, s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, invalid("%s %q is not a hex SHA-256", what, s)
	}
	return h, nil
}

// EncodeRecord returns the bytes the log stores for r (the current
// format), carrying r's Hash and PrevHash as they are, right or wrong: for
// tools and tests that rewrite stored records. Append computes the hashes
// itself.
func EncodeRecord(r Record) ([]byte, error) {
	prev, err := decodeHash("prev_hash", r.PrevHash)
	if err != nil {
		return nil, err
	}
	hash, err := decodeHash("hash", r.Hash)
	if err != nil {
		return nil, err
	}
	v, _ := encodeV1(&r, &prev)
	copy(v[1:], hash[:])
	return v, nil
}

// DecodeRecord decodes a stored record of either format.
func DecodeRecord(v []byte) (Record, error) {
	var d decoder
	r, _, err := d.decode(v)
	return r, err
}

// decoder decodes the records of one read. It reuses strings a stream
// repeats (its name, event types, actors, command ids, the hash each
// record's prev_hash repeats), so that a record costs few allocations.
type decoder struct {
	slab     []byte
	slabSize int
	stream   string
	// streamNS is the stream's netstring ("8:act/0001,"), which the fast
	// split compares whole (splitFast).
	streamNS []byte
	// day and dayStart: the date of the last time parsed, and its
	// midnight; a stream's events mostly share a day.
	day      [10]byte
	dayStart time.Time
	// lastType, lastActor and lastCmd: the fields of the record decoded
	// before.
	lastType, lastActor, lastCmd string
	strs                         map[string]string
	// recent holds strings interned before, each in the slot its length
	// and a few of its bytes pick (internSlot) or the one beside it,
	// looked at before the table (a map look-up hashes every byte): a stream's few types and
	// actors come round again and again, and each finds its own slot with
	// one comparison, where a ring of the last eight, looked through in
	// turn, missed once a stream used more types and actors than that.
	recent  [64]string
	prevRaw [hashLen]byte
	prevHex string
	// borrow: a record's Payload is the stored value's own bytes, valid
	// only until the read moves on (Replay), instead of a copy.
	borrow bool
	// left is how many records the read still expects, this one
	// included (from the stream's head; 0: not known), for sizing the
	// next block of the arena (alloc).
	left uint64
}

// decoders keeps the decoders of finished reads: what they cache (the
// interned strings, the rest of a slab, the last day and hash) is right
// for any stream, and a replay of many short streams (every act at start,
// `senim check`) would otherwise build a new table per stream. Nothing a
// decoder handed out is ever handed out again.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// getDecoder returns a pooled decoder set up for a read of stream; put it
// back with decoders.Put when the read is over.
func getDecoder(stream string, borrow bool) *decoder {
	d := decoders.Get().(*decoder)
	d.stream, d.borrow, d.left = stream, borrow, 0
	d.streamNS = appendNetstring(d.streamNS[:0], stream)
	if len(d.strs) > maxStrs/2 {
		// Other streams' actors filled the table: make room for this one's.
		clear(d.strs)
	}
	return d
}

// decode returns the record stored as v and, for the binary format, v
// itself (nil for a JSON record), for chainCheck. The record holds no
// reference to v.
func (d *decoder) decode(v []byte) (Record, []byte, error) {
	var r Record
	stored, err := d.decodeInto(&r, v)
	if err != nil {
		return Record{}, nil, err
	}
	return r, stored, nil
}

// decodeInto is decode writing the record to *r, every field of it (a
// read that keeps its records decodes each straight into its place in the
// slice it returns). On an error *r is left half written.
func (d *decoder) decodeInto(r *Record, v []byte) ([]byte, error) {
	if len(v) > 0 && v[0] == '{' {
		// Unmarshalled into its own record, so that r does not escape.
		var jr Record
		if err := json.Unmarshal(v, &jr); err != nil {
			return nil, err
		}
		*r = jr
		return nil, nil
	}
	if len(v) < v1Header || v[0] != formatV1 {
		return nil, errFormat
	}
	body := v[v1Header:]
	var f fieldSpans
	if !d.splitFast(body, &f) {
		if err := splitFields(body, &f); err != nil {
			return nil, err
		}
	}
	seq, ok := parseSeq(f.field(body, 2))
	if !ok {
		return nil, errors.New("the record's seq is not a canonical decimal")
	}
	at, ok := d.parseAt(f.field(body, 5))
	if !ok {
		return nil, errors.New("the record's time is not canonical RFC 3339 UTC")
	}
	payload := f.field(body, 7)
	hash, prev := v[1:1+hashLen], v[1+hashLen:v1Header]
	// The hash in hex and the payload share the read's slab. The hex part
	// is never handed out as bytes, so the string over it never changes.
	// A borrowing read hands out the stored payload itself (capacity cut,
	// so that an append to it cannot write over the value's end).
	n := 2*hashLen + len(payload)
	if d.borrow {
		n = 2 * hashLen
	}
	buf := d.alloc(n)
	encodeHash(buf, hash)
	r.Seq, r.At, r.Hash = seq, at, unsafe.String(&buf[0], 2*hashLen)
	if d.borrow {
		r.Payload = payload[:len(payload):len(payload)]
	} else {
		copy(buf[2*hashLen:], payload)
		r.Payload = buf[2*hashLen:]
	}
	if stream := f.field(body, 1); string(stream) == d.stream {
		r.Stream = d.stream
	} else {
		r.Stream = string(stream)
	}
	// Neighbouring records mostly share their type, actor and command id.
	if typ := f.field(body, 3); string(typ) != d.lastType {
		d.lastType = d.intern(typ)
	}
	r.Type = d.lastType
	if actor := f.field(body, 4); string(actor) != d.lastActor {
		d.lastActor = d.intern(actor)
	}
	if cmd := f.field(body, 6); string(cmd) != d.lastCmd {
		d.lastCmd = d.intern(cmd)
	}
	r.Actor, r.CommandID = d.lastActor, d.lastCmd
	switch {
	case d.prevHex != "" && bytes.Equal(prev, d.prevRaw[:]):
		r.PrevHash = d.prevHex
	case bytes.Equal(prev, zeroRaw[:]):
		r.PrevHash = ZeroHash
	default:
		r.PrevHash = hex.EncodeToString(prev)
	}
	copy(d.prevRaw[:], hash)
	d.prevHex = r.Hash
	if d.left > 0 {
		d.left--
	}
	return v, nil
}

var zeroRaw [hashLen]byte

// The read's arena: the bytes its records own (each hash's hex and, for a
// kept record, its payload) are carved one after another from a few large
// blocks instead of being allocated one by one. A verified read knows
// from the head how many records are coming: its next block is sized for
// them all (left records the size of the one at hand, and an eighth
// more), up to maxSlab, so that an act of a hundred records costs one
// block, not seven. A read that does not know (Read, Replay) grows its
// blocks from 512 bytes to maxGrowSlab, so that reading one record costs
// little more than the record. The rest of the last block goes on to the
// next read through the decoder's pool.
//
// A block is never written again once a byte of it is handed out: the
// hash's hex is written once, before its string is made (unsafe.String,
// which needs exactly that), and is never handed out as bytes; a payload
// is handed out with its capacity cut at its end (b[i:j:j]), so that a
// caller's append to it reallocates instead of writing over its
// neighbour. The payload's own bytes are the caller's to change
// (TestArenaRecordsDoNotAlias).
const (
	// maxSlab bounds a block, and so the memory a record kept long after
	// the others (a hash an actor remembers) keeps alive: 32 KiB, the
	// largest of the runtime's small size classes.
	maxSlab = 32 << 10
	// maxGrowSlab bounds the blocks of a read of unknown length.
	maxGrowSlab = 4 << 10
	// ownAlloc: a larger field gets an allocation of its own.
	ownAlloc = 4 << 10
)

// alloc returns n bytes of the read's arena, capacity n.
func (d *decoder) alloc(n int) []byte {
	if n > ownAlloc {
		return make([]byte, n)
	}
	if len(d.slab) < n {
		size := min(max(2*d.slabSize, 512), maxGrowSlab)
		if d.left > 1 {
			want := d.left * uint64(n)
			size = int(min(max(want+want/8, uint64(size)), maxSlab))
		}
		d.slabSize = size
		// Grown by append, not made: its capacity is the whole of the
		// runtime's size class (make's would stop at size, the rest of the
		// class unused, a tenth of a block at some sizes).
		d.slab = append([]byte(nil), make([]byte, max(size, n))...)
		d.slab = d.slab[:cap(d.slab)]
	}
	b := d.slab[:n:n]
	d.slab = d.slab[n:]
	return b
}

// intern returns b as a string, shared with the earlier fields of the read
// that had the same bytes. The table is bounded: a stream of many distinct
// values costs an allocation each, never unbounded memory.
func (d *decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	// Two slots for each pick: a pair of strings that pick the same one
	// take turns without a look-up (the older moves to the second).
	i := internSlot(b)
	if s := d.recent[i]; string(b) == s {
		return s
	}
	if s := d.recent[i^1]; string(b) == s {
		d.recent[i^1], d.recent[i] = d.recent[i], s
		return s
	}
	s, ok := d.strs[string(b)]
	if !ok {
		s = string(b)
		if d.strs == nil {
			d.strs = make(map[string]string, 8)
		}
		if len(d.strs) < maxStrs {
			d.strs[s] = s
		}
	}
	d.recent[i^1], d.recent[i] = d.recent[i], s
	return s
}

// internSlot picks b's slot in a decoder's recent strings from its length
// and its first and last eight bytes (b is not empty). Two strings that
// share a slot only cost a table look-up when they take turns: the 54
// event types of the domain and a few actors share 14 slots of 64.
func internSlot(b []byte) int {
	n := len(b)
	var x uint64
	if n >= 8 {
		x = binary.LittleEndian.Uint64(b) ^ binary.LittleEndian.Uint64(b[n-8:])*0xff51afd7ed558ccd
	} else {
		for _, c := range b {
			x = x<<8 | uint64(c)
		}
	}
	x = (x ^ uint64(n)) * 0x9e3779b97f4a7c15
	return int(x >> (64 - 6))
}

// hexPairs[b] is b's two hex digits, as a little-endian uint16.
var hexPairs = func() (t [256]uint16) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = uint16(digits[i>>4]) | uint16(digits[i&15])<<8
	}
	return t
}()

// encodeHash writes the hex of a hash to dst (2*hashLen bytes), as
// hex.Encode does, four bytes to a store: a replay spells one per record.
func encodeHash(dst []byte, h []byte) {
	_ = dst[2*hashLen-1]
	_ = h[hashLen-1]
	for i := 0; i < hashLen; i += 4 {
		binary.LittleEndian.PutUint64(dst[2*i:], uint64(hexPairs[h[i]])|uint64(hexPairs[h[i+1]])<<16|uint64(hexPairs[h[i+2]])<<32|uint64(hexPairs[h[i+3]])<<48)
	}
}

// maxStrs bounds a decoder's table of interned strings.
const maxStrs = 64

// nextNetstring splits the first netstring off b. The length must be a
// canonical decimal (no leading zero), so that one record has exactly one
// encoding.
func nextNetstring(b []byte) (field, rest []byte, ok bool) {
	n, i := 0, 0
	for ; i < len(b) && i < 10 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 || i >= len(b) || b[i] != ':' || (b[0] == '0' && i > 1) {
		return nil, nil, false
	}
	b = b[i+1:]
	if n >= len(b) || b[n] != ',' {
		return nil, nil, false
	}
	return b[:n], b[n+1:], true
}

// fieldSpans are where a record's eight fields are in its canonical
// bytes: field i is b[f[i][0]:f[i][1]]. Offsets, not slices, so that
// splitting writes no pointers (a pointer written to memory the compiler
// cannot place on the stack costs a write barrier while the collector
// marks, which a busy reader mostly is).
type fieldSpans [8][2]int

func (f *fieldSpans) field(b []byte, i int) []byte { return b[f[i][0]:f[i][1]] }

// splitFields splits a record's canonical bytes into its eight fields,
// strictly: each a netstring spelled canonically, the first the tag, and
// nothing after the eighth.
func splitFields(b []byte, f *fieldSpans) error {
	at := 0
	for i := range f {
		field, rest, ok := nextNetstring(b[at:])
		if !ok {
			return errors.New("a field of the record does not decode")
		}
		end := len(b) - len(rest) - 1
		f[i] = [2]int{end - len(field), end}
		at = len(b) - len(rest)
	}
	if at != len(b) || string(f.field(b, 0)) != canonTag {
		return errors.New("the record's canonical bytes are not senim.event.v1")
	}
	return nil
}

// tagNetstring is the first netstring of every record's canonical bytes.
const tagNetstring = "14:" + canonTag + ","

// splitFast is splitFields for the records a read mostly meets: the tag
// and the stream's netstring compared whole, the next five fields' lengths
// one or two digits. It says false for anything else, leaving f to
// splitFields, which decides (the fast split accepts nothing splitFields
// refuses, and splits what it accepts the same way: FuzzSplitFast).
func (d *decoder) splitFast(b []byte, f *fieldSpans) bool {
	const tl = len(tagNetstring)
	if len(b) < tl || string(b[:tl]) != tagNetstring {
		return false
	}
	f[0] = [2]int{3, tl - 1}
	at := tl
	if ns := d.streamNS; len(ns) != 0 && len(b)-at >= len(ns) && string(b[at:at+len(ns)]) == string(ns) {
		f[1] = [2]int{at + len(ns) - 1 - len(d.stream), at + len(ns) - 1}
		at += len(ns)
	} else {
		field, rest, ok := nextNetstring(b[at:])
		if !ok {
			return false
		}
		end := len(b) - len(rest) - 1
		f[1] = [2]int{end - len(field), end}
		at = len(b) - len(rest)
	}
	for i := 2; i < 7; i++ {
		// One or two digits, no leading zero but for "0", then ':'.
		if len(b)-at < 3 {
			return false
		}
		c0, c1 := b[at]-'0', b[at+1]-'0'
		n := int(c0)
		switch {
		case c0 > 9:
			return false
		case b[at+1] == ':':
			at += 2
		case c1 <= 9 && c0 != 0 && b[at+2] == ':':
			n = n*10 + int(c1)
			at += 3
		default:
			return false
		}
		if at+n >= len(b) || b[at+n] != ',' {
			return false
		}
		f[i] = [2]int{at, at + n}
		at += n + 1
	}
	field, rest, ok := nextNetstring(b[at:])
	if !ok || len(rest) != 0 {
		return false
	}
	f[7] = [2]int{len(b) - 1 - len(field), len(b) - 1}
	return true
}

// parseSeq parses a canonical decimal uint64 (what appendUint writes).
func parseSeq(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseAt parses a time exactly as appendCanonical writes it (UTC,
// RFC 3339 with nanoseconds, trailing zeros of the fraction dropped) and
// refuses any other spelling of the same instant: the hash covers the
// spelling, the record carries the instant.
func (d *decoder) parseAt(b []byte) (time.Time, bool) {
	if t, ok := d.parseAtFast(b); ok {
		return t, true
	}
	// Years outside 0000-9999 and anything odd: the slow way, then the
	// spelling must be what Format gives back.
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC()
	var buf [48]byte
	return t, bytes.Equal(t.AppendFormat(buf[:0], time.RFC3339Nano), b)
}

// parseAtFast parses "YYYY-MM-DDTHH:MM:SS[.fraction]Z", the spelling of
// every time in years 0000-9999. The date is parsed only when it is not
// the day before's (a stream's events mostly share a day).
func (d *decoder) parseAtFast(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	h, ok1 := twoDigits(b[11], b[12])
	mi, ok2 := twoDigits(b[14], b[15])
	s, ok3 := twoDigits(b[17], b[18])
	if !(ok1 && ok2 && ok3) || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	ns := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		// "." and 1 to 9 digits, the last not a zero.
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 || frac[len(frac)-1] == '0' {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			if c-'0' > 9 {
				return time.Time{}, false
			}
			ns = ns*10 + int(c-'0')
		}
		for i := len(frac) - 1; i < 9; i++ {
			ns *= 10
		}
	}
	clock := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(ns)
	if !d.dayStart.IsZero() && string(b[:10]) == string(d.day[:]) {
		return d.dayStart.Add(clock), true
	}
	if b[4] != '-' || b[7] != '-' {
		return time.Time{}, false
	}
	y1, ok1 := twoDigits(b[0], b[1])
	y2, ok2 := twoDigits(b[2], b[3])
	mo, ok3 := twoDigits(b[5], b[6])
	day, ok4 := twoDigits(b[8], b[9])
	if !(ok1 && ok2 && ok3 && ok4) {
		return time.Time{}, false
	}
	y := y1*100 + y2
	start := time.Date(y, time.Month(mo), day, 0, 0, 0, 0, time.UTC)
	// time.Date normalises 02-30 into March: such a spelling is not canonical.
	if ty, tm, td := start.Date(); ty != y || int(tm) != mo || td != day {
		return time.Time{}, false
	}
	copy(d.day[:], b[:10])
	d.dayStart = start
	return start.Add(clock), true
}

// twoDigits parses two decimal digits.
func twoDigits(a, b byte) (int, bool) {
	a, b = a-'0', b-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}
