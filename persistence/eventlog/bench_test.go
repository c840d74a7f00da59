package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// The event log against raw pebble doing the same work, measured in the
// same run so that the ratio holds on a machine whose speed drifts:
//
//	go test ./persistence/eventlog -run '^$' -bench Append -benchtime 2s
//	go test ./persistence/eventlog -run '^$' -bench Replay -benchtime 2x
//
// BenchmarkAppend: durable appends per second of one ~200-byte event (and
// its head) at 1, 16 and 256 concurrent writers, each on its own stream;
// the raw side commits synced batches holding the SAME bytes (the value and
// head the log stored for that writer's first event), so that neither
// compresses better than the other. The log's appends are marked
// TrustedPayloads, as the act actors' are. Both sides get their streams'
// names ready-made. cpu-µs/append is the process's CPU time (background
// work included) per append while each side ran; syncs/append counts the
// WAL syncs (fewer: more appends share one). The sides take turns in
// slices, and which goes first alternates. ratio is the whole run's;
// pair-ratio the median of the slices' ratios, which a burst of another
// process's work on one side of one slice moves little.
//
// BenchmarkReplay: 1M events over 10k streams (-short: 100k over 1k),
// written once per run; each iteration reads every stream through Read,
// ReadVerified, Replay (payloads borrowed, not copied) and ReplayVerified,
// and iterates the same keys with a raw pebble
// iterator over the same store, touching every value, the two sides taking
// turns by chunks of 500 streams (pair-ratio: the median of the chunks' ratios).

var benchPayload = json.RawMessage(`{"revision":2,"draft":{"registry_number":"1-2026-0001","powers":"Управлять и распоряжаться автомобилем","term_months":24,"state_duty":216250,"services_fee":1297500}}`)

// runWriters calls appendOne n times from writers goroutines, writer w
// passing the seq its stream is at (seqs[w], advanced), and returns how
// long that took.
func runWriters(b *testing.B, writers, n int, seqs []uint64, appendOne func(w int, seq uint64) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := appendOne(w, seqs[w]); err != nil {
					b.Error(err)
					return
				}
				seqs[w]++
			}
		}(w)
	}
	wg.Wait()
	return time.Since(start)
}

func benchStream(w int) string { return fmt.Sprintf("act/%04d", w) }

func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			var logSyncs, rawSyncs atomic.Int64
			l, err := Open(b.TempDir(), Options{FS: countSyncs(&logSyncs)})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{}, FS: countSyncs(&rawSyncs)})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			at := time.Now()
			streams := make([]string, writers)
			for w := range streams {
				streams[w] = benchStream(w)
			}
			appendOne := func(w int, seq uint64) error {
				_, err := l.Append(ctx, AppendRequest{Stream: streams[w], ExpectedSeq: seq,
					Events: []Draft{{Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: benchPayload}}, TrustedPayloads: true})
				return err
			}
			// Each writer's first event, outside the timing: its stored
			// bytes are what the raw side writes.
			vals, heads := make([][]byte, writers), make([][]byte, writers)
			for w := range writers {
				if err := appendOne(w, 0); err != nil {
					b.Fatal(err)
				}
				vals[w] = rawGet(b, l.db, eventKey(benchStream(w), 1))
				heads[w] = rawGet(b, l.db, eventKey(benchStream(w), 0))
			}
			// The two sides take turns in slices, so that a change of the
			// machine's speed (a neighbour's fsyncs) weighs on both; a slice
			// gives each writer 16 appends or more, so that it measures the
			// writers at work rather than starting and stopping.
			logSeqs, rawSeqs := make([]uint64, writers), make([]uint64, writers)
			for w := range writers {
				logSeqs[w], rawSeqs[w] = 1, 1
			}
			rawAppend := func(w int, seq uint64) error {
				batch := db.NewBatch()
				defer batch.Close()
				_ = batch.Set(eventKey(streams[w], seq), vals[w], nil)
				_ = batch.Set(eventKey(streams[w], 0), heads[w], nil)
				return batch.Commit(pebble.Sync)
			}
			var logTime, rawTime, logCPU, rawCPU time.Duration
			var pairs []float64 // each slice's ratio
			logSyncs0, rawSyncs0 := logSyncs.Load(), rawSyncs.Load()
			b.ResetTimer()
			slices := max(1, min(50, b.N/(16*writers)))
			for i := range slices {
				n := b.N / slices
				if i == slices-1 {
					n += b.N % slices
				}
				// Which side goes first alternates: the second inherits the
				// first's background work (its flush, its compaction).
				var logT, rawT time.Duration
				for j := range 2 {
					cpu0 := processCPU()
					if (i+j)%2 == 0 {
						logT = runWriters(b, writers, n, logSeqs, appendOne)
						logCPU += processCPU() - cpu0
					} else {
						rawT = runWriters(b, writers, n, rawSeqs, rawAppend)
						rawCPU += processCPU() - cpu0
					}
				}
				logTime, rawTime = logTime+logT, rawTime+rawT
				pairs = append(pairs, rawT.Seconds()/logT.Seconds())
			}
			// WAL syncs per append: how well each side gathers appends
			// into one sync.
			b.ReportMetric(float64(logSyncs.Load()-logSyncs0)/float64(b.N), "syncs/append")
			b.ReportMetric(float64(rawSyncs.Load()-rawSyncs0)/float64(b.N), "raw-syncs/append")
			// The process's CPU time while each side ran (its background
			// work, compactions, included): what an append costs.
			b.ReportMetric(float64(logCPU.Microseconds())/float64(b.N), "cpu-µs/append")
			b.ReportMetric(float64(rawCPU.Microseconds())/float64(b.N), "raw-cpu-µs/append")
			logRate, rawRate := float64(b.N)/logTime.Seconds(), float64(b.N)/rawTime.Seconds()
			b.ReportMetric(logRate, "appends/s")
			b.ReportMetric(rawRate, "raw-appends/s")
			b.ReportMetric(logRate/rawRate, "ratio")
			// The median of the slices' ratios: a burst of a neighbour's
			// work that lands on one side of one slice moves it little.
			b.ReportMetric(median(pairs), "pair-ratio")
		})
	}
}

func rawGet(b *testing.B, db *pebble.DB, k []byte) []byte {
	b.Helper()
	v, closer, err := db.Get(k)
	if err != nil {
		b.Fatal(err)
	}
	defer closer.Close()
	return append([]byte(nil), v...)
}

// replayTypes are the event types of the replay dataset, as an act's are.
var replayTypes = []string{"application_submitted", "draft_presented", "draft_approved", "invoice_issued", "payment_received", "call_started", "call_ended", "document_signed"}

func BenchmarkReplay(b *testing.B) {
	streams, perStream := 10000, 100
	if testing.Short() {
		streams = 1000
	}
	dir := b.TempDir()
	l, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	writeReplayData(b, l, streams, perStream)
	// Settle the store (flushed, compacted), as a server's is between
	// bursts, so that background compactions do not tilt either side.
	if err := l.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := l.db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		b.Fatal(err)
	}
	names := make([]string, streams)
	for i := range names {
		names[i] = benchStream(i)
	}
	b.Logf("%d events over %d streams written in %s", streams*perStream, streams, time.Since(start).Round(time.Millisecond))
	total := float64(streams * perStream)

	raw := func(names []string) time.Duration {
		start := time.Now()
		n := 0
		for _, s := range names {
			it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: eventKey(s, 1), UpperBound: upper(streamPrefix(s))})
			if err != nil {
				b.Fatal(err)
			}
			for it.First(); it.Valid(); it.Next() {
				v, err := it.ValueAndErr()
				if err != nil {
					b.Fatal(err)
				}
				n += len(it.Key()) + len(v)
			}
			if err := it.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if n == 0 {
			b.Fatal("raw iteration read nothing")
		}
		return time.Since(start)
	}
	// The two sides take turns by chunks of streams, each chunk (about
	// 20 MB) larger than pebble's block cache so that the side reading a
	// chunk second finds it no warmer than the first did; which side goes
	// first alternates. A drift of the machine's speed weighs on both.
	const chunk = 500
	for _, mode := range []string{"Read", "ReadVerified", "Replay", "ReplayVerified"} {
		b.Run(mode, func(b *testing.B) {
			var read func(s string) (int, error)
			switch mode {
			case "Read", "Replay":
				each := l.Read
				if mode == "Replay" {
					each = l.Replay
				}
				read = func(s string) (int, error) {
					n := 0
					err := each(s, 1, func(r Record) error { n++; return nil })
					return n, err
				}
			case "ReadVerified":
				read = func(s string) (int, error) {
					recs, err := l.ReadVerified(s)
					return len(recs), err
				}
			case "ReplayVerified":
				read = func(s string) (int, error) {
					n := 0
					err := l.ReplayVerified(s, func(r Record) error { n++; return nil })
					return n, err
				}
			}
			var logTime, rawTime time.Duration
			var pairs []float64 // each chunk's ratio
			b.ResetTimer()
			logRead := func(names []string) time.Duration {
				start := time.Now()
				for _, s := range names {
					n, err := read(s)
					if err != nil || n != perStream {
						b.Fatalf("%s: %d records, %v", s, n, err)
					}
				}
				return time.Since(start)
			}
			for range b.N {
				for c := 0; c < len(names); c += chunk {
					part := names[c:min(c+chunk, len(names))]
					var logT, rawT time.Duration
					if c/chunk%2 == 0 {
						rawT = raw(part)
						logT = logRead(part)
					} else {
						logT = logRead(part)
						rawT = raw(part)
					}
					logTime, rawTime = logTime+logT, rawTime+rawT
					pairs = append(pairs, rawT.Seconds()/logT.Seconds())
				}
			}
			b.ReportMetric(total*float64(b.N)/logTime.Seconds(), "events/s")
			b.ReportMetric(total*float64(b.N)/rawTime.Seconds(), "raw-events/s")
			b.ReportMetric(rawTime.Seconds()/logTime.Seconds(), "ratio")
			b.ReportMetric(median(pairs), "pair-ratio")
			b.ReportMetric(logTime.Seconds()/float64(b.N)*1e6/total, "s/1M-events")
		})
	}
}

// writeReplayData appends perStream events to each of streams streams, a
// stream's events in one append, from 16 writers (pebble groups their
// syncs).
func writeReplayData(b *testing.B, l *Log, streams, perStream int) {
	b.Helper()
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= streams {
					return
				}
				evs := make([]Draft, perStream)
				for j := range evs {
					p := fmt.Sprintf(`{"n":%d,"act":"%s","revision":%d,"draft":{"registry_number":"1-2026-%04d","powers":"Управлять и распоряжаться автомобилем","term_months":24,"state_duty":216250}}`, j, benchStream(i), j, i)
					evs[j] = Draft{Type: replayTypes[j%len(replayTypes)], Actor: []string{"client:871008401427", "notary:aliya"}[j%2],
						At: at.Add(time.Duration(j) * time.Second), Payload: json.RawMessage(p)}
				}
				if _, err := l.Append(ctx, AppendRequest{Stream: benchStream(i), Events: evs}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// median is the median of xs (which it sorts).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// countSyncs is the OS's filesystem, counting the syncs of WAL files in n.
func countSyncs(n *atomic.Int64) vfs.FS {
	return errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if strings.HasSuffix(op.Path, ".log") {
				n.Add(1)
			}
		}
		return nil
	}))
}

// processCPU is the CPU time the process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecode: decoding a stream's stored records, 100 at a time (a
// read's decoder lives for one stream) into their places in a slice, as
// ReadVerified does, without pebble:
//
//	go test ./persistence/eventlog -run '^$' -bench Decode
func BenchmarkDecode(b *testing.B) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	vals := make([][]byte, 100)
	var prev [hashLen]byte
	for j := range vals {
		p := fmt.Sprintf(`{"n":%d,"act":"%s","revision":%d,"draft":{"registry_number":"1-2026-0001","powers":"Управлять и распоряжаться автомобилем","term_months":24,"state_duty":216250}}`, j, benchStream(1), j)
		r := Record{Stream: benchStream(1), Seq: uint64(j + 1), Type: replayTypes[j%len(replayTypes)], Actor: []string{"client:871008401427", "notary:aliya"}[j%2],
			At: at.Add(time.Duration(j) * time.Second), Payload: json.RawMessage(p)}
		vals[j], prev = encodeV1(&r, &prev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	recs := make([]Record, len(vals))
	for i := 0; i < b.N; i += len(vals) {
		d := getDecoder(benchStream(1), false)
		for j, v := range vals {
			if _, err := d.decodeInto(&recs[j], v); err != nil {
				b.Fatal(err)
			}
		}
		decoders.Put(d)
	}
}

// BenchmarkHashChecker: the reader's side of a verified read without
// pebble: each of a stream's 100 stored records decoded into a slice, as
// ReadVerified does, and its hash checked (helper: beside the read,
// verify.go; inline: by the reader; none: not at all, the decoding alone),
// with about 400 ns of arithmetic standing for pebble's step to the
// record. helper minus none is what checking the hashes costs the reader;
// the least of several runs is the quiet machine's:
//
//	go test ./persistence/eventlog -run '^$' -bench HashChecker -count 10
func BenchmarkHashChecker(b *testing.B) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)
	vals := make([][]byte, 100)
	var prev [hashLen]byte
	for j := range vals {
		p := fmt.Sprintf(`{"n":%d,"act":"%s","revision":%d,"draft":{"registry_number":"1-2026-0001","powers":"Управлять и распоряжаться автомобилем","term_months":24,"state_duty":216250}}`, j, benchStream(1), j)
		r := Record{Stream: benchStream(1), Seq: uint64(j + 1), Type: replayTypes[j%len(replayTypes)], Actor: "notary:aliya", At: at, Payload: json.RawMessage(p)}
		vals[j], prev = encodeV1(&r, &prev)
	}
	for _, mode := range []string{"none", "inline", "helper"} {
		b.Run(mode, func(b *testing.B) {
			var h hashChecker
			recs := make([]Record, len(vals))
			b.ResetTimer()
			for i := 0; i < b.N; i += len(vals) {
				d := getDecoder(benchStream(1), false)
				h.start(uint64(len(vals)))
				for j, v := range vals {
					pebbleStep()
					stored, err := d.decodeInto(&recs[j], v)
					if err != nil {
						b.Fatal(err)
					}
					switch mode {
					case "inline":
						if !storedHashOK(stored) {
							b.Fatal("altered")
						}
					case "helper":
						if !h.add(uint64(j+1), stored) {
							b.Fatal("not added")
						}
					}
				}
				if bad := h.finish(); bad != 0 {
					b.Fatal(bad)
				}
				decoders.Put(d)
			}
		})
	}
}

var pebbleSink uint64

// pebbleStep stands for pebble's step to the next record: about 400 ns
// of dependent multiplications.
func pebbleStep() {
	x := pebbleSink
	for i := 0; i < 130; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	pebbleSink = x
}
