package sfu_test

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
)

// outage is how long TestOutageThenRecovery cuts the network: short in CI,
// -outage=10s for the case.
var outage = flag.Duration("outage", 3*time.Second, "the network outage of TestOutageThenRecovery")

// impaired is a test peer's one UDP socket behind a bad network. What it
// receives (the peer's downlink) goes through a bottleneck of rate bits/s
// whose queue holds at most queue (then drops, as a router does), loses a
// share loss at random, and arrives delay plus up to jitter later. While
// down, nothing gets through either way.
type impaired struct {
	net.PacketConn
	in chan datagram

	mu       sync.Mutex
	rate     int64
	queue    time.Duration
	loss     float64
	delay    time.Duration
	jitter   time.Duration
	down     bool
	nextFree time.Time
	rng      *rand.Rand
}

type datagram struct {
	b    []byte
	addr net.Addr
	at   time.Time
}

func newImpaired(t *testing.T, set func(*impaired)) *impaired {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	im := &impaired{PacketConn: c, in: make(chan datagram, 8192), queue: 400 * time.Millisecond, rng: rand.New(rand.NewSource(1))}
	im.set(set)
	go im.pump()
	t.Cleanup(func() { _ = c.Close() })
	return im
}

// set changes the network's conditions.
func (im *impaired) set(f func(*impaired)) {
	im.mu.Lock()
	defer im.mu.Unlock()
	f(im)
}

func (im *impaired) pump() {
	defer close(im.in)
	for {
		buf := make([]byte, 1500)
		n, addr, err := im.PacketConn.ReadFrom(buf)
		if err != nil {
			return
		}
		now := time.Now()
		im.mu.Lock()
		drop := im.down || (im.loss > 0 && im.rng.Float64() < im.loss)
		at := now
		if !drop && im.rate > 0 {
			if im.nextFree.Before(now) {
				im.nextFree = now
			}
			if im.nextFree.Sub(now) > im.queue {
				drop = true
			} else {
				im.nextFree = im.nextFree.Add(time.Duration(int64(n) * 8 * int64(time.Second) / im.rate))
				at = im.nextFree
			}
		}
		at = at.Add(im.delay)
		if im.jitter > 0 {
			at = at.Add(time.Duration(im.rng.Int63n(int64(im.jitter))))
		}
		im.mu.Unlock()
		if drop {
			continue
		}
		select {
		case im.in <- datagram{b: buf[:n], addr: addr, at: at}:
		default: // a full queue drops
		}
	}
}

func (im *impaired) ReadFrom(b []byte) (int, net.Addr, error) {
	d, ok := <-im.in
	if !ok {
		return 0, nil, net.ErrClosed
	}
	if w := time.Until(d.at); w > 0 {
		time.Sleep(w)
	}
	return copy(b, d.b), d.addr, nil
}

func (im *impaired) WriteTo(b []byte, addr net.Addr) (int, error) {
	im.mu.Lock()
	down := im.down
	im.mu.Unlock()
	if down {
		return len(b), nil // lost on the way
	}
	return im.PacketConn.WriteTo(b, addr)
}

// joinImpaired joins a peer, publishing audio and 300 kbit/s video, whose
// network is im.
func (c *call) joinImpaired(id string, im *impaired) *peer.Peer {
	c.t.Helper()
	return c.joinWith(id, sfu.Config{LoopbackOnly: true, PacketConn: im}, webrtc.Configuration{})
}

// joinSimulcast joins a peer that publishes its camera in three layers.
func (c *call) joinSimulcast(id string, rates [3]int) *peer.Peer {
	c.t.Helper()
	c.opts.Simulcast = true
	defer func() { c.opts.Simulcast = false }()
	return c.joinPublishing(id, sfu.Config{LoopbackOnly: true}, webrtc.Configuration{},
		func(p *peer.Peer) error { return p.PublishSimulcast(c.ctx, sfu.StreamID(id), rates) })
}

// track is what p receives of kind ("audio", "video") from participant.
func track(p *peer.Peer, from, kind string) *peer.Received {
	for _, r := range p.Received() {
		if r.Stream == sfu.StreamID(from) && strings.HasPrefix(r.Codec, kind+"/") {
			return r
		}
	}
	return nil
}

// flows waits until p gets n more packets of kind from participant than it
// had, and returns the track.
func flows(t *testing.T, p *peer.Peer, from, kind string, n int64) *peer.Received {
	t.Helper()
	var start int64 = -1
	var got *peer.Received
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		got = track(p, from, kind)
		if got == nil {
			return fmt.Errorf("no %s from %s", kind, from)
		}
		if start < 0 {
			start = got.Packets.Load()
		}
		if d := got.Packets.Load() - start; d < n {
			return fmt.Errorf("%d %s packets from %s, want %d", d, kind, from, n)
		}
		return nil
	})
	return got
}

var layers = [3]int{100_000, 400_000, 1_200_000}

// One subscriber's downlink is 300 kbit/s: it gets the lowest layer (or
// audio alone) of the publisher's simulcast camera, while the other
// subscriber, on a fast network, gets the best layer, and the recording
// keeps the best layer too.
func TestSlowSubscriberGetsALowerLayer(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 200 * time.Millisecond, BWEInitial: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := newCall(t, s, dir)
	c.joinSimulcast("notary:aliya", layers)
	slow := c.joinImpaired("client:1", newImpaired(t, func(im *impaired) { im.rate = 300_000 }))
	fast := c.join("client:2", webrtc.Configuration{})

	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		v := track(fast, "notary:aliya", "video")
		if v == nil {
			return errors.New("the fast subscriber gets no video yet")
		}
		if l := v.Layer.Load(); l != 2 {
			return fmt.Errorf("the fast subscriber gets layer %d, not the best", l)
		}
		return nil
	})
	testtool.Eventually(t, 2*wait, 50*time.Millisecond, func() error {
		est, subs, weak := c.room.Quality("client:1")
		v := track(slow, "notary:aliya", "video")
		if v == nil {
			return errors.New("no video yet")
		}
		if l := v.Layer.Load(); l != 0 && !weak {
			return fmt.Errorf("the slow subscriber gets layer %d (estimate %d bit/s, %+v)", l, est, subs)
		}
		return nil
	})
	// Audio goes on for the slow one. The layers are chosen per
	// subscriber: at one moment, the slow one gets the lowest (or audio
	// alone) while the fast one gets the best. (A box short of CPU delays
	// packets on loopback too, and either estimate may dip for a while.)
	flows(t, slow, "notary:aliya", "audio", 50)
	testtool.Eventually(t, 2*wait, 50*time.Millisecond, func() error {
		if l := track(fast, "notary:aliya", "video").Layer.Load(); l != 2 {
			return fmt.Errorf("the fast subscriber gets layer %d", l)
		}
		if _, _, weak := c.room.Quality("client:2"); weak {
			return errors.New("the fast subscriber's video is paused")
		}
		if _, _, weak := c.room.Quality("client:1"); !weak {
			if l := track(slow, "notary:aliya", "video").Layer.Load(); l != 0 {
				return fmt.Errorf("the slow subscriber gets layer %d", l)
			}
		}
		return nil
	})

	recs := c.room.Close()
	var ivf string
	for _, r := range recs {
		if filepath.Ext(r.File) == ".ivf" && r.Participant == "notary:aliya" && r.Kind == "video" {
			ivf = filepath.Join(dir, r.File)
		}
	}
	if ivf == "" {
		t.Fatalf("no recording of the notary's camera: %+v", recs)
	}
	frames := ivfFrames(t, ivf)
	if len(frames) < 30 {
		t.Fatalf("%d frames recorded", len(frames))
	}
	// The layers start a few milliseconds apart: the recording may begin
	// with a lower one, and moves to the best on its first keyframe.
	best := 0
	for i, f := range frames {
		switch {
		case len(f) > 10 && f[10] == 0xa2:
			best++
		case best > 0:
			t.Fatalf("recorded frame %d is not of the best layer, after %d that were", i, best)
		}
	}
	if best < len(frames)*9/10 {
		t.Fatalf("%d of %d recorded frames are of the best layer", best, len(frames))
	}
}

// ivfFrames reads an IVF file's frames.
func ivfFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 32 {
		t.Fatalf("%s: %d bytes", path, len(b))
	}
	var out [][]byte
	for b = b[32:]; len(b) >= 12; {
		n := int(binary.LittleEndian.Uint32(b[:4]))
		if len(b) < 12+n {
			break
		}
		out = append(out, b[12:12+n])
		b = b[12+n:]
	}
	return out
}

// A subscriber whose downlink loses 5% of its packets still hears the
// other continuously: most audio packets arrive, never many in a row lost.
func TestAudioThroughFivePercentLoss(t *testing.T) {
	s := newSFU(t, 200*time.Millisecond)
	c := newCall(t, s, "")
	c.join("notary:aliya", webrtc.Configuration{})
	im := newImpaired(t, func(*impaired) {})
	lossy := c.joinImpaired("client:1", im)
	hears(t, lossy, "notary:aliya")
	im.set(func(im *impaired) { im.loss = 0.05 })
	a := track(lossy, "notary:aliya", "audio")
	got0, lost0 := a.Packets.Load(), a.Lost.Load()
	flows(t, lossy, "notary:aliya", "audio", 500) // 10 s of audio
	got, lost := a.Packets.Load()-got0, a.Lost.Load()-lost0
	if ratio := float64(lost) / float64(got+lost); ratio > 0.12 {
		t.Errorf("%d of %d audio packets lost", lost, got+lost)
	}
	if run := a.LongestLoss.Load(); run > 5 {
		t.Errorf("%d audio packets lost in a row: a gap of %d ms", run, 20*run)
	}
	// Lost video is asked for again (NACK) and repaired on its RTX stream.
	v := flows(t, lossy, "notary:aliya", "video", 30)
	if !v.RTX {
		t.Error("the video came without a repair stream")
	}
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if v.Late.Load() == 0 {
			return fmt.Errorf("no lost video packet was repaired (%d lost)", v.Lost.Load())
		}
		return nil
	})
}

// 200 ms of jitter on a subscriber's downlink: audio and video go on.
func TestCallThroughJitter(t *testing.T) {
	s := newSFU(t, 200*time.Millisecond)
	c := newCall(t, s, "")
	c.join("notary:aliya", webrtc.Configuration{})
	im := newImpaired(t, func(im *impaired) { im.delay, im.jitter = 20*time.Millisecond, 200*time.Millisecond })
	p := c.joinImpaired("client:1", im)
	a := flows(t, p, "notary:aliya", "audio", 250)
	if lost, got := a.Lost.Load(), a.Packets.Load(); float64(lost) > 0.02*float64(got) {
		t.Errorf("%d of %d audio packets lost through jitter alone", lost, got)
	}
	flows(t, p, "notary:aliya", "video", 100)
}

// The subscriber's network goes away for -outage (both ways), then comes
// back: the call goes on without a new join, audio and video flow again,
// and the video is back on if it was paused.
func TestOutageThenRecovery(t *testing.T) {
	s := newSFU(t, 200*time.Millisecond)
	c := newCall(t, s, "")
	c.join("notary:aliya", webrtc.Configuration{})
	im := newImpaired(t, func(*impaired) {})
	p := c.joinImpaired("client:1", im)
	hears(t, p, "notary:aliya")
	im.set(func(im *impaired) { im.down = true })
	time.Sleep(*outage) // the outage itself, not a wait for an outcome
	im.set(func(im *impaired) { im.down = false })
	flows(t, p, "notary:aliya", "audio", 100)
	flows(t, p, "notary:aliya", "video", 100)
	testtool.Eventually(t, 2*wait, 50*time.Millisecond, func() error {
		if _, _, weak := c.room.Quality("client:1"); weak {
			return errors.New("video still paused")
		}
		return nil
	})
	if !c.room.Has("client:1") {
		t.Fatal("the participant was dropped")
	}
}

// Under heavy congestion the subscriber's video pauses and audio goes on;
// both participants are told; when the bandwidth returns, so does the
// video, and both are told again.
func TestVideoPausesUnderCongestionAndResumes(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, VideoPauseBelow: 150_000, VideoResumeAbove: 250_000})
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(t, s, "")
	c.join("notary:aliya", webrtc.Configuration{})
	im := newImpaired(t, func(*impaired) {})
	p := c.joinImpaired("client:1", im)
	hears(t, p, "notary:aliya")
	im.set(func(im *impaired) { im.rate = 80_000 })
	testtool.Eventually(t, 2*wait, 50*time.Millisecond, func() error {
		if _, _, weak := c.room.Quality("client:1"); !weak {
			return errors.New("video not paused")
		}
		return nil
	})
	flows(t, p, "notary:aliya", "audio", 50) // audio goes on
	im.set(func(im *impaired) { im.rate = 0 })
	// The video comes back on a try while the estimate is still low, and
	// the try holds (it was paused again at the next allocation when it
	// was judged by the estimate alone): on for three allocations running.
	var since time.Time
	testtool.Eventually(t, 3*wait, 50*time.Millisecond, func() error {
		if _, _, weak := c.room.Quality("client:1"); weak {
			since = time.Time{}
			return errors.New("video still paused")
		}
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) < 3*500*time.Millisecond {
			return errors.New("video back, not yet for three allocations")
		}
		return nil
	})
	flows(t, p, "notary:aliya", "video", 60)
	// The "network" signals reach the participants through their signaling
	// queues, after the room's state changed: wait for the last one.
	told := func(id, weak string) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		got := c.network[id]
		if !slices.Contains(got, weak) || got[len(got)-1] != sfu.NetworkOK {
			return fmt.Errorf("%s was told %v, want %s and then %s last", id, got, weak, sfu.NetworkOK)
		}
		return nil
	}
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if err := told("client:1", sfu.NetworkWeakSelf); err != nil {
			return err
		}
		return told("notary:aliya", sfu.NetworkWeakPeer)
	})
}

// A publisher that sends RED audio (Opus with the previous frame again):
// a subscriber that takes RED gets it as it is, one that does not gets the
// primary Opus alone, and the recording is of Opus.
func TestREDAudio(t *testing.T) {
	s := newSFU(t, 200*time.Millisecond)
	dir := t.TempDir()
	c := newCall(t, s, dir)
	red := func(id string) func(*peer.Peer) error {
		return func(p *peer.Peer) error {
			p.RED = true
			return p.Publish(c.ctx, sfu.StreamID(id), 300_000)
		}
	}
	c.joinPublishing("notary:aliya", sfu.Config{LoopbackOnly: true, RED: true}, webrtc.Configuration{}, red("notary:aliya"))
	withRED := c.joinPublishing("client:1", sfu.Config{LoopbackOnly: true, RED: true}, webrtc.Configuration{}, red("client:1"))
	plain := c.join("client:2", webrtc.Configuration{})
	a := flows(t, withRED, "notary:aliya", "audio", 50)
	if a.Codec != sfu.MimeTypeRED {
		t.Errorf("the subscriber that takes RED gets %s", a.Codec)
	}
	if per := a.Payload.Load() / a.Packets.Load(); per < 160 {
		t.Errorf("RED packets of %d bytes: no redundancy", per)
	}
	b := flows(t, plain, "notary:aliya", "audio", 50)
	if b.Codec != webrtc.MimeTypeOpus {
		t.Errorf("the subscriber without RED gets %s", b.Codec)
	}
	if per := b.Payload.Load() / b.Packets.Load(); per != 80 {
		t.Errorf("Opus packets of %d bytes, want the 80 of the primary block", per)
	}
	recs := c.room.Close()
	found := false
	for _, r := range recs {
		if r.Participant == "notary:aliya" && r.Kind == "audio" {
			found = true
			if r.Codec != webrtc.MimeTypeOpus || r.Packets < 50 {
				t.Errorf("the RED audio was recorded as %+v", r)
			}
		}
	}
	if !found {
		t.Errorf("the RED audio was not recorded: %+v", recs)
	}
}

// A publisher that offers its own simulcast camera (as a browser does:
// JoinOptions.Offers) gets an answer that takes its three layers: a fast
// subscriber, whom the room offers to as before, gets the best one and a
// slow one the lowest. The room takes that one offer only: a second one,
// or one from a participant it leads, is a bad description.
func TestPublisherOffersSimulcast(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 200 * time.Millisecond, BWEInitial: 2_000_000})
	if err != nil {
		t.Fatal(err)
	}
	c := newCall(t, s, "")
	c.opts.Offers = true
	pub := c.joinPublishing("notary:aliya", sfu.Config{LoopbackOnly: true}, webrtc.Configuration{},
		func(p *peer.Peer) error { return p.PublishSimulcast(c.ctx, sfu.StreamID("notary:aliya"), layers) })
	c.opts.Offers = false
	fast := c.join("client:2", webrtc.Configuration{})
	slow := c.joinImpaired("client:1", newImpaired(t, func(im *impaired) { im.rate = 300_000 }))

	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		v := track(fast, "notary:aliya", "video")
		if v == nil {
			return errors.New("the fast subscriber gets no video yet")
		}
		if l := v.Layer.Load(); l != 2 {
			return fmt.Errorf("the fast subscriber gets layer %d, not the best", l)
		}
		return nil
	})
	testtool.Eventually(t, 2*wait, 50*time.Millisecond, func() error {
		v := track(slow, "notary:aliya", "video")
		if v == nil {
			return errors.New("no video yet")
		}
		if l := v.Layer.Load(); l != 0 {
			if _, _, weak := c.room.Quality("client:1"); !weak {
				return fmt.Errorf("the slow subscriber gets layer %d", l)
			}
		}
		return nil
	})
	// The publisher hears the others: the room offered their tracks after
	// its answer, and the publisher answered.
	flows(t, pub, "client:2", "audio", 30)

	offer, err := fast.PC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"notary:aliya", "client:2"} {
		if err := c.room.Offer(id, offer.SDP); !errors.Is(err, sfu.ErrBadDescription) {
			t.Errorf("an offer from %s that the room leads: %v", id, err)
		}
	}
	if err := c.room.Offer("nobody", offer.SDP); !errors.Is(err, sfu.ErrNoParticipant) {
		t.Errorf("an offer from no participant: %v", err)
	}
}
