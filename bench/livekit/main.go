// Command lkload is `senim load calls` against LiveKit: the same rooms, the
// same synthetic VP8 and Opus, the same window and the same figures (the
// JSON names of loadgen.CallsReport), so that run.sh can set the two
// servers side by side. It lives in its own module so that Senim's does not
// gain LiveKit's dependencies.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/senim-kz/senim/loadgen"
)

type options struct {
	url, key, secret string
	rooms, subs      int
	duplex           bool
	bitrate          int
	warmup, window   time.Duration
	pid              int
	setup            int
	timeout          time.Duration
	json             string
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "ws://127.0.0.1:7880", "LiveKit's URL")
	flag.StringVar(&o.key, "key", "devkey", "API key (livekit-server --dev: devkey)")
	flag.StringVar(&o.secret, "secret", "secret", "API secret (livekit-server --dev: secret)")
	flag.IntVar(&o.rooms, "rooms", 10, "rooms at once")
	flag.IntVar(&o.subs, "subscribers", 1, "subscribers per publisher (fan-out)")
	flag.BoolVar(&o.duplex, "duplex", false, "with --subscribers 1: both participants publish")
	flag.IntVar(&o.bitrate, "bitrate", 1_860_000, "the synthetic camera's bit rate, bit/s (VP8 at 30 frames/s)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "media flows this long before the window opens")
	flag.DurationVar(&o.window, "window", 20*time.Second, "the measured window")
	flag.IntVar(&o.pid, "server-pid", 0, "livekit-server's process id (required): its CPU time from /proc/PID/stat")
	flag.IntVar(&o.setup, "setup", 4, "rooms connected at once")
	flag.DurationVar(&o.timeout, "step-timeout", 30*time.Second, "deadline of the wait for media")
	flag.StringVar(&o.json, "json", "", "write the report as JSON to this file")
	flag.Parse()
	if o.pid <= 0 || o.rooms < 1 || o.subs < 1 || (o.duplex && o.subs != 1) {
		fmt.Fprintln(os.Stderr, "lkload: --server-pid is required; --rooms and --subscribers ≥ 1; --duplex only with --subscribers 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lkload:", err)
		os.Exit(1)
	}
	fmt.Printf("livekit: %d rooms 1→%d duplex %v: %d video streams, %.1f pkt/s each (min %.1f), lost %d (%.4f%%), server %.3f cores, %.2f core-ms/s per stream, %.2f µs per packet (%.2f per video packet)\n",
		rep.Rooms, rep.Subscribers, rep.Duplex, rep.VideoStreams, rep.VideoPPSMean, rep.VideoPPSMin, rep.Lost, 100*rep.LossRatio,
		rep.ServerCores, rep.CPUPerStream, rep.CPUPerPacket, rep.CPUPerVideoPacket)
	if o.json != "" {
		b, _ := json.MarshalIndent(rep, "", " ")
		if err := os.WriteFile(o.json, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "lkload:", err)
			os.Exit(1)
		}
	}
}

// counter is what one subscriber received of one remote track.
type counter struct {
	audio         bool
	packets, lost atomic.Int64
	key           string // subscriber/publisher
}

type load struct {
	mu       sync.Mutex
	counters []*counter
	rooms    []*lksdk.Room
}

func (l *load) sample() map[string]loadgen.StreamCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]loadgen.StreamCount{}
	for _, c := range l.counters {
		s := out[c.key]
		if c.audio {
			s.Audio += c.packets.Load()
		} else {
			s.Video += c.packets.Load()
		}
		s.Lost += c.lost.Load()
		out[c.key] = s
	}
	return out
}

func (l *load) onTrack(subscriber string) func(*webrtc.TrackRemote, *lksdk.RemoteTrackPublication, *lksdk.RemoteParticipant) {
	return func(t *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		c := &counter{audio: strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeOpus), key: subscriber + "/" + rp.Identity()}
		l.mu.Lock()
		l.counters = append(l.counters, c)
		l.mu.Unlock()
		go func() {
			var next uint16
			for i := 0; ; i++ {
				p, _, err := t.ReadRTP()
				if err != nil {
					return
				}
				c.packets.Add(1)
				if gap := int64(p.SequenceNumber - next); i > 0 && gap > 0 && gap < 1000 {
					c.lost.Add(gap)
				}
				if d := int16(p.SequenceNumber - next); i == 0 || d >= 0 {
					next = p.SequenceNumber + 1
				}
			}
		}()
	}
}

func (l *load) connect(o options, room, identity string, subscribe bool) (*lksdk.Room, error) {
	cb := &lksdk.RoomCallback{}
	if subscribe {
		cb.ParticipantCallback.OnTrackSubscribed = l.onTrack(identity)
	}
	r, err := lksdk.ConnectToRoom(o.url, lksdk.ConnectInfo{APIKey: o.key, APISecret: o.secret, RoomName: room, ParticipantIdentity: identity},
		cb, lksdk.WithAutoSubscribe(subscribe))
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.rooms = append(l.rooms, r)
	l.mu.Unlock()
	return r, nil
}

// publish sends synthetic VP8 (as media/peer does: 30 frames/s of
// bitrate/240 bytes, a keyframe every 3 s and on PLI) and Opus (20 ms).
func publish(ctx context.Context, r *lksdk.Room, bitrate int) error {
	var keyframe atomic.Bool
	keyframe.Store(true)
	onRTCP := func(p rtcp.Packet) {
		switch p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			keyframe.Store(true)
		}
	}
	video, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, lksdk.WithRTCPHandler(onRTCP))
	if err != nil {
		return err
	}
	audio, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		return err
	}
	if _, err := r.LocalParticipant.PublishTrack(video, &lksdk.TrackPublicationOptions{Name: "camera", VideoWidth: 640, VideoHeight: 480}); err != nil {
		return err
	}
	if _, err := r.LocalParticipant.PublishTrack(audio, &lksdk.TrackPublicationOptions{Name: "microphone"}); err != nil {
		return err
	}
	go func() {
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		size := max(bitrate/240, 12)
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			key := keyframe.Swap(false) || i%90 == 0
			f := make([]byte, size)
			_, _ = rand.Read(f)
			if key {
				f[0] &^= 0x01
				f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
				f[6], f[7], f[8], f[9] = 0x80, 0x02, 0xe0, 0x01
			} else {
				f[0] |= 0x01
			}
			if err := video.WriteSample(media.Sample{Data: f, Duration: time.Second / 30}, nil); err != nil {
				return
			}
		}
	}()
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		frame := make([]byte, 80)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_, _ = rand.Read(frame[1:])
			frame[0] = 0xfc
			if err := audio.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}, nil); err != nil {
				return
			}
		}
	}()
	return nil
}

func run(ctx context.Context, o options) (*loadgen.CallsReport, error) {
	cpu := func() (float64, error) { return loadgen.ProcCPU(o.pid) }
	if _, err := cpu(); err != nil {
		return nil, err
	}
	l := &load{}
	defer func() {
		for _, r := range l.rooms {
			r.Disconnect()
		}
	}()
	media, stopMedia := context.WithCancel(ctx)
	defer stopMedia()
	run := fmt.Sprintf("lk%d", time.Now().UnixNano()%1e9)
	errs := make([]error, o.rooms)
	sem := make(chan struct{}, o.setup)
	var wg sync.WaitGroup
	for i := range o.rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			room := fmt.Sprintf("%s-%d", run, i)
			// Subscribers first, as Senim's notary waits in the call.
			for j := range o.subs {
				id := fmt.Sprintf("sub-%d-%d", i, j)
				r, err := l.connect(o, room, id, true)
				if err != nil {
					errs[i] = err
					return
				}
				if o.duplex {
					if errs[i] = publish(media, r, o.bitrate); errs[i] != nil {
						return
					}
				}
			}
			r, err := l.connect(o, room, "pub-"+strconv.Itoa(i), o.duplex)
			if err == nil {
				err = publish(media, r, o.bitrate)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	want := o.rooms * o.subs
	if o.duplex {
		want *= 2
	}
	deadline := time.Now().Add(o.timeout)
	for {
		n := 0
		for _, c := range l.sample() {
			if c.Video > 0 && c.Audio > 0 {
				n++
			}
		}
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("media reached %d of %d subscriptions within %s", n, want, o.timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "lkload: media flows to %d subscriptions; warm-up %s, then measuring %s\n", want, o.warmup, o.window)
	time.Sleep(o.warmup)
	before := l.sample()
	cpu0, err := cpu()
	if err != nil {
		return nil, err
	}
	tool0 := toolCPU()
	t0 := time.Now()
	select {
	case <-time.After(o.window):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cpu1, err := cpu()
	if err != nil {
		return nil, err
	}
	secs := time.Since(t0).Seconds()
	after := l.sample()
	rep := &loadgen.CallsReport{Scenario: "calls", Server: "livekit", Addr: o.url, Rooms: o.rooms, Subscribers: o.subs, Duplex: o.duplex,
		Bitrate: o.bitrate, Warmup: o.warmup.Seconds(), Seconds: secs, ServerCPUSeconds: cpu1 - cpu0, CPUSource: "proc",
		ToolCPUSeconds: toolCPU() - tool0}
	loadgen.FillCalls(rep, before, after)
	return rep, nil
}

func toolCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return (time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())).Seconds()
}
