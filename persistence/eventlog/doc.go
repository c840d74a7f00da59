// Package eventlog is Senim's durable event log on pebble: one stream of
// events per act, each event hash-chained to the one before, every append
// fsync'd before it is acknowledged.
//
// # The commit path
//
// Append takes a stream, the sequence number the caller last saw (the
// expected sequence), an optional command id and the events. Under the
// stream's lock it
//
//  1. returns the stored records unchanged if the command id was already
//     applied to the stream by the same actor (a retry after a reconnect
//     writes nothing), or refuses with ErrIDReused if that actor's earlier
//     command under the id had another digest (name and body);
//  2. refuses with ErrConflict unless the stream's head is at the expected
//     sequence (optimistic concurrency: a writer that missed an event must
//     re-read and decide again);
//  3. numbers the events from head+1, chains each to the previous hash, and
//     writes events, head, command record and index changes in ONE batch,
//     committed with pebble.Sync.
//
// Only after the sync returns does Append return, so an acknowledged event
// survives a crash of the process or the machine. Streams are locked
// separately (striped locks), so appends to different acts proceed
// concurrently; those that reach the commit while a synced commit is under
// way are gathered into one batch, committed with one sync when it returns
// (group commit, group.go): that is where throughput under many writers
// comes from. A group's batch is atomic: every append in it is durable, or
// none is.
//
// Payloads are checked (valid JSON) and compacted, unless the request says
// TrustedPayloads: the act actors pass json.Marshal's output, which is both
// already, and skip the check (and the records handed back keep those
// bytes instead of a copy).
//
// An append's keys and values are written into a scratch buffer that the
// next append reuses once the group is committed (pebble's batch holds
// copies by then); the records handed back keep only what is theirs (the
// hashes' hex, a checked payload's copy). An append of one event makes
// five heap allocations (TestAppendAllocations).
//
// # The hash chain
//
// Each record's Hash is hex(SHA-256(prev || CanonicalBytes(record))), where
// prev is the 32 raw bytes of the previous record's hash (32 zero bytes for
// seq 1). CanonicalBytes is documented on Record. Altering, removing,
// inserting or reordering any record breaks the chain from that record on;
// VerifyChain and VerifyRecords name the first bad sequence number.
//
// # Key layout
//
// Keys start with one byte naming their kind; 0x00 separates the parts, so
// streams, index names, values, command ids and command actors may not
// contain it.
//
//	'e' stream 0x00 be64(0)          → head: be64(seq) + hash (hex)
//	'e' stream 0x00 be64(seq)        → record (see Record format), seq ≥ 1
//	'h' stream                       → 0x00 (movedHead: lists the stream), or a head (before heads moved)
//	'c' stream 0x00 actor 0x00 id    → be64(first seq) be64(last seq) digest
//	'c' stream 0x00 id               → be64(first seq) be64(last seq) (legacy, read only)
//	'i' index 0x00 value 0x00 stream → empty (secondary index entry)
//	's' stream                       → snapshot (see snapshot.go)
//
// Big-endian sequence numbers make a stream's events sort in order, so Read
// is one forward scan.
//
// Every append writes the stream's head as seq 0, just before the
// stream's first event, where a verified read finds it with the same seek
// that finds the records (the head used to be under 'h', in another key
// range: a second seek, 7 to 13% of a verified read). The 'h' key lists
// the streams (Streams, Heads, `senim check`) and holds no head: a
// stream's first append writes it as movedHead (one byte), and an append
// writes no more keys than before. A stream last appended to before heads
// moved has its head under 'h' only, and every read of a head (Head,
// Heads, the verified reads) falls back to it; its next append writes the
// head before its events and marks 'h' as moved. Nothing is migrated. A
// version from before reads heads from 'h' alone: it finds movedHead too
// short for a head and refuses such a stream as corrupt (it fails closed)
// instead of appending onto a head it would find behind. Downgrading
// therefore leaves the streams appended to since unreadable by the older
// version, not damaged.
//
// Every sstable carries a bloom filter (10 bits a key) on every level: a
// command look-up or a head read is a point get (a verified read of a
// stream without the head beside its records finds it by a prefix seek,
// which asks the filters the same way), and the
// filter answers it without reading a data block of each sstable whose key
// range covers the key. Filters are optional for reading, so stores
// written before them open unchanged (their sstables gain filters as
// compactions rewrite them).
//
// The command look-up of an append is mostly for an id not yet stored,
// and most appends skip it: each stream whose head is cached also keeps a
// small bloom filter of its command keys, built by one scan of them when
// the head is first read and added to by every append, which says
// "certainly new" or "maybe"; only a "maybe" asks the store, so the answer
// stays exact (cmdfilter.go says why the filter never misses a stored id).
//
// # Reading
//
// Read and ReadVerified hand out records a caller may keep: each payload
// is a copy. The bytes a read's records own (each hash's hex, each kept
// payload) are carved from an arena of a few blocks instead of allocated
// one by one: a payload's capacity cut at its length, so that no record
// reaches into another's bytes, and a hash's hex written once, before its
// string is made, and never again. A verified read sizes its block from
// the records the head says are coming (up to 32 KiB: an act of a hundred
// records costs one block, not seven of 4 KiB); a read that does not know
// grows its blocks from 512 bytes to 4 KiB. ReadVerified and
// ReadVerifiedAfter size the slice they return from the head and decode
// each record straight into its place in it; a record's PrevHash is the
// record before's Hash, one string. A verified read of an act's hundred
// records makes three allocations on one processor (the slice, the block,
// the iterator's bounds: TestReadVerifiedAllocations; fourteen before the
// blocks were sized from the head), and in BenchmarkReplay about seven,
// the hash helper's list of chunks and what pebble's and the chunks'
// pools make again after each collection included. Its bytes (about 430 a
// record: the Record, 152, its hash's hex, 64, its payload) are what the
// caller keeps, and so what sets how often the collector runs. A decoder keeps a stream's strings (types, actors, command ids) in a
// small cache picked by their length and bytes, so that a record's
// strings are shared, not allocated, at one comparison each.
// Replay and ReplayVerified are for a caller that decodes each record at
// once and keeps no payload (an act's load, VerifyChain): a payload is the
// stored value itself, valid only until the callback returns, which spares
// a replay most of its allocations and so most of its garbage collection.
// Every other field of their records may be kept.
//
// ReadVerified, ReplayVerified and VerifyChain read the head and the
// records through one iterator (one view of the store, one seek: the head
// is its first key), check each record's place in the chain (stream, seq,
// prev_hash) as they go, and check the records' hashes beside the read:
// the process's hash helper, a goroutine woken as a verified read starts,
// hashes chunks of about 4 KiB of copied stored bytes while the reader
// decodes the next records and calls back (verify.go). The reader never
// waits for the helper: while it lags (the other processor busy), the
// reader hashes the records itself, and at the end it hands the helper
// half of its last chunk, hashes the other half, and takes back the
// chunks the helper has not claimed. The error is the one the records
// give checked one by one, in order: a record whose hash is wrong wins
// over any error after it, the callback's included.
//
// # Record format
//
// A record is stored as
//
//	0x01 hash(32) prev_hash(32) CanonicalBytes
//
// the version byte, the two hashes raw, and the netstrings the hash
// covers, so that hash = SHA-256(the stored bytes after the hash): verifying
// a record hashes a slice of its value, and decoding it walks eight
// length-prefixed fields (replay no longer runs encoding/json; the payload
// is the one field copied out). The walk notes the fields' offsets, not
// slices of them (a pointer stored costs a write barrier while the
// collector marks), and takes a fast path for the spelling a read mostly
// meets (the tag and the stream's netstring compared whole, the lengths of
// the fields before the payload one or two digits); anything else is left
// to the strict walk, which decides. A record is decoded strictly: every field
// must be spelled as Append spells it (decimal seq without leading zeros,
// UTC RFC 3339 time with the fraction's trailing zeros dropped, exactly
// eight netstrings), so one record has one encoding and a record that
// verifies on disk verifies in an export (evidence's events.jsonl, the JSON
// of Record). A stored byte other than 0x01 or '{' first is a broken chain.
//
// Records written before version 1 are the JSON of Record (they start with
// '{') and are read as before, their hash recomputed from the fields; a
// stream may hold both, old records first, and chains across them: the
// hash is the same function of the same fields in both formats. Nothing is
// migrated: old records stay as they were signed into checkpoints.
//
// # Snapshots
//
// A stream's owner may store a snapshot of what it computed from the
// stream (PutSnapshot): a cache outside the hash chain, named by the seq
// and hash of the record it was taken at and checksummed. ReadVerifiedAfter
// checks the whole chain but decodes only the records after a seq, and
// gives the hash at that seq for the owner to match against its snapshot's;
// a snapshot that does not match is not used. Check, exports and
// checkpoints never read snapshots.
package eventlog
