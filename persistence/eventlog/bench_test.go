package eventlog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Durable appends per second through the event log against raw pebble
// synced batch commits of the same shape (one ~300-byte record and a head
// key), at 1, 16 and 256 concurrent writers, each on its own stream, in one
// run:
//
//	go test ./persistence/eventlog -run '^$' -bench . -benchtime 3s

var benchPayload = json.RawMessage(`{"revision":2,"draft":{"registry_number":"1-2026-0001","powers":"Управлять и распоряжаться автомобилем","term_months":24,"state_duty":216250,"services_fee":1297500}}`)

func runWriters(b *testing.B, writers int, appendOne func(w int, seq uint64) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var seq uint64
			for next.Add(1) <= int64(b.N) {
				if err := appendOne(w, seq); err != nil {
					b.Error(err)
					return
				}
				seq++
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			at := time.Now()
			runWriters(b, writers, func(w int, seq uint64) error {
				_, err := l.Append(ctx, AppendRequest{Stream: fmt.Sprintf("act/%04d", w), ExpectedSeq: seq,
					Events: []Draft{{Type: "draft_presented", Actor: "notary:aliya", At: at, Payload: benchPayload}}})
				return err
			})
		})
	}
}

func BenchmarkRawPebble(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: pebbleLogger{}})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			val := make([]byte, 420) // the size of a stored record with its hashes
			runWriters(b, writers, func(w int, seq uint64) error {
				batch := db.NewBatch()
				defer batch.Close()
				k := binary.BigEndian.AppendUint64([]byte(fmt.Sprintf("e/act/%04d/", w)), seq+1)
				_ = batch.Set(k, val, nil)
				_ = batch.Set([]byte(fmt.Sprintf("h/act/%04d", w)), k, nil)
				return batch.Commit(pebble.Sync)
			})
		})
	}
}
