package eventlog

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStreamOrder: acts appended by 64 writers, each act a new stream
// of 15 appends (a command id each; every fifth event about 8 KB of
// incompressible bytes, as a CMS signature with its certificates), the
// streams named by 32 hex digits wholly random or beginning with the
// milliseconds they were made at (actors.newActID). Each iteration writes
// 3,000 acts to a fresh store and waits for its compactions to end; it
// reports the process's CPU per act (pebble's background work included)
// and what its flushes and compactions wrote per act:
//
//	go test ./persistence/eventlog -run '^$' -bench StreamOrder -benchtime 1x -count 3
func BenchmarkStreamOrder(b *testing.B) {
	const acts, writers, perAct = 3000, 64, 15
	sig := make([]byte, 6000)
	if _, err := rand.Read(sig); err != nil {
		b.Fatal(err)
	}
	bigPayload, err := json.Marshal(map[string]string{"cms": base64.StdEncoding.EncodeToString(sig)})
	if err != nil {
		b.Fatal(err)
	}
	for _, order := range []string{"random", "time"} {
		b.Run("ids="+order, func(b *testing.B) {
			var cpu time.Duration
			var flushed, compacted uint64
			for range b.N {
				l, err := Open(b.TempDir(), Options{})
				if err != nil {
					b.Fatal(err)
				}
				ctx, at := context.Background(), time.Now()
				start := processCPU()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= acts {
							stream := orderedID(order == "time")
							for i := range perAct {
								p := benchPayload
								if i%5 == 4 {
									p = bigPayload
								}
								if _, err := l.Append(ctx, AppendRequest{Stream: stream, ExpectedSeq: uint64(i), CommandID: fmt.Sprint("c", i),
									CommandActor: "client:871008401427", Events: []Draft{{Type: "signed", Actor: "notary:aliya", At: at, Payload: p}},
									TrustedPayloads: true}); err != nil {
									b.Error(err)
									return
								}
							}
						}
					}()
				}
				wg.Wait()
				waitCompactions(l)
				cpu += processCPU() - start
				f, c := written(l.db.Metrics())
				flushed += f
				compacted += c
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N * acts)
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/act")
			b.ReportMetric(float64(flushed)/1024/n, "flushed-KB/act")
			b.ReportMetric(float64(compacted)/1024/n, "compacted-KB/act")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// orderedID is a stream name of 32 hex digits: random, or beginning with
// the milliseconds it is made at.
func orderedID(byTime bool) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	if byTime {
		binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16|uint64(binary.BigEndian.Uint16(b[6:8])))
	}
	return hex.EncodeToString(b[:])
}

// waitCompactions waits until no flush or compaction has run for half a
// second.
func waitCompactions(l *Log) {
	for quiet := 0; quiet < 5; {
		time.Sleep(100 * time.Millisecond)
		if m := l.db.Metrics(); m.Compact.NumInProgress == 0 && m.Flush.NumInProgress == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}
