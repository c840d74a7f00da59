package sfu_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/metrics"
)

// cpuTime is the CPU (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkForwarding measures the CPU of forwarded streams. Each room has
// two participants, each publishing VP8 at 300 kbit/s and Opus, so a room
// forwards 4 streams (a track to one subscriber). "sfu" runs them through
// rooms; "sfu-rec" records them too; "sfu-batch" has the SFU on one UDP
// socket with batched writes (Config.UDPAddr, Config.WriteBatch);
// "direct" connects the same peers to each other without the SFU. Every
// run includes the synthetic peers' own CPU (packetizing, SRTP both ways),
// so the SFU's cost per stream is the difference from "direct". Each b.N
// is one second of measured call: use -benchtime 5x. With -benchmem,
// allocs/op is per second of call, every goroutine's.
//
//	go test ./media/sfu -run '^$' -bench Forwarding -benchtime 5x -benchmem
func BenchmarkForwarding(b *testing.B) {
	for _, rooms := range []int{1, 5, 10, 25} {
		for _, mode := range []string{"sfu", "sfu-rec", "sfu-batch", "direct"} {
			b.Run(fmt.Sprintf("rooms=%d/%s", rooms, mode), func(b *testing.B) { benchForwarding(b, rooms, mode) })
		}
	}
}

func benchForwarding(b *testing.B, rooms int, mode string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api, err := sfu.NewAPI(sfu.Config{LoopbackOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	viaSFU := mode != "direct"
	cfg := sfu.Config{LoopbackOnly: true, PLIInterval: 500 * time.Millisecond}
	if mode == "sfu-batch" {
		cfg.UDPAddr, cfg.WriteBatch = "127.0.0.1:0", 16
	}
	recordDir := ""
	if mode == "sfu-rec" {
		recordDir = b.TempDir()
	}
	s, err := sfu.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	type pair struct{ a, b *peer.Peer }
	var pairs []pair
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for i := 0; i < rooms; i++ {
		var p pair
		if viaSFU {
			var room *sfu.Room
			peers := map[string]*peer.Peer{}
			queues := map[string]chan sfu.Signal{"a": make(chan sfu.Signal, 256), "b": make(chan sfu.Signal, 256)}
			room = s.NewRoom(sfu.RoomOptions{ID: fmt.Sprint(i), RecordDir: recordDir, Sink: func(id string, sig sfu.Signal) { queues[id] <- sig }})
			for _, id := range []string{"a", "b"} {
				id := id
				pp, err := peer.New(api, webrtc.Configuration{}, func(sig peer.Signal) {
					if sig.Kind == "answer" {
						_ = room.Answer(id, sig.SDP)
					} else {
						_ = room.Candidate(id, *sig.Candidate)
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				if err := pp.Publish(ctx, id, 300_000); err != nil {
					b.Fatal(err)
				}
				peers[id] = pp
				go func() {
					for {
						select {
						case <-ctx.Done():
							return
						case sig := <-queues[id]:
							if sig.Kind == "offer" {
								_ = pp.Offer(sig.SDP)
							} else {
								_ = pp.Candidate(*sig.Candidate)
							}
						}
					}
				}()
				if err := room.Join(id); err != nil {
					b.Fatal(err)
				}
			}
			p = pair{peers["a"], peers["b"]}
			closers = append(closers, func() { room.Close() })
		} else {
			var pa, pb *peer.Peer
			pa, err = peer.New(api, webrtc.Configuration{}, func(sig peer.Signal) { _ = peer.Route(pb, sig) })
			if err != nil {
				b.Fatal(err)
			}
			pb, err = peer.New(api, webrtc.Configuration{}, func(sig peer.Signal) { _ = peer.Route(pa, sig) })
			if err != nil {
				b.Fatal(err)
			}
			for id, pp := range map[string]*peer.Peer{"a": pa, "b": pb} {
				if err := pp.Publish(ctx, id, 300_000); err != nil {
					b.Fatal(err)
				}
			}
			if err := peer.Dial(pa, pb); err != nil {
				b.Fatal(err)
			}
			p = pair{pa, pb}
		}
		pairs = append(pairs, p)
		closers = append(closers, func() { _ = p.a.Close(); _ = p.b.Close() })
	}
	// Wait until every stream flows, then measure.
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range pairs {
		for {
			va, aa := p.a.ReceivedFrom("b")
			vb, ab := p.b.ReceivedFrom("a")
			if va > 30 && aa > 30 && vb > 30 && ab > 30 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("streams did not start: %d %d %d %d", va, aa, vb, ab)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	received := func() (n int64) {
		for _, p := range pairs {
			for _, pp := range []*peer.Peer{p.a, p.b} {
				for _, r := range pp.Received() {
					n += r.Packets.Load()
				}
			}
		}
		return n
	}
	forwarded0 := testutil.ToFloat64(metrics.MediaPackets.WithLabelValues("video")) + testutil.ToFloat64(metrics.MediaPackets.WithLabelValues("audio"))
	rx0, cpu0, t0 := received(), cpuTime(b), time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	wall, cpu, rx := time.Since(t0), cpuTime(b)-cpu0, received()-rx0
	streams := float64(4 * rooms)
	b.ReportMetric(float64(cpu.Milliseconds())/wall.Seconds()/streams, "cpu-ms/s/stream")
	b.ReportMetric(float64(rx)/wall.Seconds(), "rx-pkts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(rx), "cpu-µs/pkt")
	if viaSFU {
		fwd := testutil.ToFloat64(metrics.MediaPackets.WithLabelValues("video")) + testutil.ToFloat64(metrics.MediaPackets.WithLabelValues("audio")) - forwarded0
		b.ReportMetric(fwd/wall.Seconds(), "fwd-pkts/s")
	}
}
