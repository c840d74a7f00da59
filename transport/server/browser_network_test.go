package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/server"
)

// throttle is the SFU's one UDP socket (server.Options.MediaUDP) with a
// bottleneck on its way to some addresses: what the server sends them goes
// at rate bits/s through a queue that holds at most 400 ms (then drops, as
// a router does); to the others, and everything it receives, as it is.
type throttle struct {
	net.PacketConn
	out chan throttled

	mu       sync.Mutex
	seen     map[string]bool // the addresses it has heard from
	slow     map[string]bool // behind the bottleneck
	rate     int64           // bits/s; 0: no bottleneck
	nextFree time.Time
	closed   bool
}

type throttled struct {
	b    []byte
	addr net.Addr
	at   time.Time
}

func newThrottle(t *testing.T) *throttle {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	th := &throttle{PacketConn: c, out: make(chan throttled, 4096), seen: map[string]bool{}, slow: map[string]bool{}}
	go th.pump()
	t.Cleanup(func() { _ = th.Close() })
	return th
}

func (th *throttle) pump() {
	for d := range th.out {
		if w := time.Until(d.at); w > 0 {
			time.Sleep(w)
		}
		_, _ = th.PacketConn.WriteTo(d.b, d.addr)
	}
}

func (th *throttle) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := th.PacketConn.ReadFrom(b)
	if err == nil {
		th.mu.Lock()
		th.seen[addr.String()] = true
		th.mu.Unlock()
	}
	return n, addr, err
}

func (th *throttle) WriteTo(b []byte, addr net.Addr) (int, error) {
	th.mu.Lock()
	if th.closed || th.rate == 0 || !th.slow[addr.String()] {
		th.mu.Unlock()
		return th.PacketConn.WriteTo(b, addr)
	}
	defer th.mu.Unlock()
	now := time.Now()
	if th.nextFree.Before(now) {
		th.nextFree = now
	}
	if th.nextFree.Sub(now) > 400*time.Millisecond {
		return len(b), nil // the queue is full: lost on the way
	}
	th.nextFree = th.nextFree.Add(time.Duration(int64(len(b)) * 8 * int64(time.Second) / th.rate))
	select {
	case th.out <- throttled{b: append([]byte(nil), b...), addr: addr, at: th.nextFree}:
	default:
	}
	return len(b), nil
}

// behind puts the addresses heard from so far, and only those, behind
// the bottleneck.
func (th *throttle) behind() {
	th.mu.Lock()
	defer th.mu.Unlock()
	for a := range th.seen {
		th.slow[a] = true
	}
}

// heardSoFar is the addresses heard from so far.
func (th *throttle) heardSoFar() map[string]bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	return maps.Clone(th.seen)
}

// behindAllBut puts the addresses heard from so far, except known, behind
// the bottleneck, and says how many.
func (th *throttle) behindAllBut(known map[string]bool) int {
	th.mu.Lock()
	defer th.mu.Unlock()
	n := 0
	for a := range th.seen {
		if !known[a] {
			th.slow[a] = true
			n++
		}
	}
	return n
}

// slowDown sets the bottleneck's rate in bits/s (0 lifts it).
func (th *throttle) slowDown(rate int64) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.rate = rate
}

func (th *throttle) heard() int {
	th.mu.Lock()
	defer th.mu.Unlock()
	return len(th.seen)
}

func (th *throttle) Close() error {
	th.mu.Lock()
	if !th.closed {
		th.closed = true
		close(th.out)
	}
	th.mu.Unlock()
	return th.PacketConn.Close()
}

// A browser whose network weakens in the middle of a call: the notary's
// app (headless Chromium, in Kazakh) and the client (a Go peer) call with
// nothing in the way; then the server's path to the browser is throttled
// to 80 kbit/s (on the SFU's own socket, a test's seam; the client's path
// stays as it is): the page says, in its language, that the connection is
// weak and video paused; audio goes on, and the client still sees the
// notary. Once the throttle is lifted, the client's video comes to the
// page again and the notice goes. (The Go peer's video is packets, not
// pictures: received packets tell, not decoded frames.)
func TestBrowserShowsAWeakConnection(t *testing.T) {
	th := newThrottle(t)
	dir := t.TempDir()
	w := worldOn(t, dir, testserver.Run(t, testserver.Config(dir, func(c *config.Config) {
		c.Media.VideoPauseBelow, c.Media.VideoResumeAbove = 150_000, 250_000
	}), zerolog.Nop(), server.Options{MediaUDP: th}))
	ctx := w.ctx()
	bctx := browser(t)
	actID, cl, _ := w.toCall(t)
	nTab := notaryOpensTheCall(t, bctx, w, "/?lang=kk", actID)
	nTab.click("call.join", 0)
	nTab.until("the browser's connection is not up", `!!(window.senim.call && window.senim.call.pc && window.senim.call.pc.iceConnectionState === 'connected')`)
	// The SFU's socket has heard the browser alone so far: its addresses
	// are the ones to throttle.
	if th.heard() == 0 {
		t.Fatal("the SFU's socket heard nothing from the browser")
	}
	th.behind()

	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, sfu.StreamID("client:"+clientIIN), 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()

	b, err := os.ReadFile("../../web/static/i18n/kk.json")
	if err != nil {
		t.Fatal(err)
	}
	var kk map[string]string
	if err := json.Unmarshal(b, &kk); err != nil {
		t.Fatal(err)
	}
	notice := func() string {
		return js[string](t, bctx, `(() => { const e = document.getElementById('network'); return e.hidden ? '' : e.textContent; })()`)
	}
	inbound := func(kind string) float64 { return browserPackets(t, bctx, kind) }
	// Unimpaired, the client's video plays and nothing is said.
	testtool.Eventually(t, 60*time.Second, 250*time.Millisecond, func() error {
		if n, s := inbound("video"), notice(); n < 30 || s != "" {
			return fmt.Errorf("the browser received %v packets of the client's video; the page says %q", n, s)
		}
		return nil
	})

	th.slowDown(80_000)
	testtool.Eventually(t, 60*time.Second, 250*time.Millisecond, func() error {
		if s := notice(); s != kk["call.network.weak_self"] {
			return fmt.Errorf("the page says %q about the connection, want %q", s, kk["call.network.weak_self"])
		}
		return nil
	})
	// Audio goes on through the bottleneck, and the client, whose path is
	// not throttled, goes on seeing the notary.
	start := inbound("audio")
	notary := sfu.StreamID("notary:aliya")
	v0, _ := cCall.ReceivedFrom(notary)
	testtool.Eventually(t, 30*time.Second, 250*time.Millisecond, func() error {
		n := inbound("audio") - start
		v, _ := cCall.ReceivedFrom(notary)
		if n < 50 || v-v0 < 30 {
			return fmt.Errorf("since the throttle the browser received %v audio packets, the client %d of the notary's video", n, v-v0)
		}
		return nil
	})

	th.slowDown(0)
	paused := inbound("video")
	testtool.Eventually(t, 90*time.Second, 250*time.Millisecond, func() error {
		n, s := inbound("video")-paused, notice()
		if n < 30 || s != "" {
			return fmt.Errorf("%v video packets received since the throttle was lifted; the page says %q", n, s)
		}
		return nil
	})
}
