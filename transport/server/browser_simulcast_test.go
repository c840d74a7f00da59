package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/internal/testserver"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/server"
)

// Simulcast from a real browser: the notary's app (headless Chromium, its
// fake camera at 1280×720) offers its camera in three layers of its own
// sendEncodings, the server answers taking them, and getStats shows the
// browser sending all three (outbound-rtp with rid q, h and f, each at its
// own width). The client, a Go peer, gets the best layer (the full width);
// then the server's path to the client is throttled to 700 kbit/s (on the
// SFU's own socket, a test's seam) and the client is switched to a lower
// layer while the browser goes on sending all three; once the throttle is
// lifted, the client gets the best layer again.
func TestBrowserSendsSimulcast(t *testing.T) {
	th := newThrottle(t)
	dir := t.TempDir()
	w := worldOn(t, dir, testserver.Run(t, testserver.Config(dir), zerolog.Nop(), server.Options{MediaUDP: th}))
	ctx := w.ctx()
	bctx := browser(t)
	actID, cl, _ := w.toCall(t)
	nTab := notaryOpensTheCall(t, bctx, w, "/", actID)
	nTab.click("call.join", 0)
	nTab.until("the browser's connection is not up", `!!(window.senim.call && window.senim.call.pc && window.senim.call.pc.iceConnectionState === 'connected')`)
	// The SFU's socket has heard the browser alone so far: the addresses
	// it hears from after are the client's.
	browserAddrs := th.heardSoFar()

	cCall, err := cl.StartCall(ctx, actID, webrtc.Configuration{}, sfu.StreamID("client:"+clientIIN), 300_000)
	if err != nil {
		t.Fatal(err)
	}
	defer cCall.Close()

	// The browser sends three layers: each rid's frames at its scale.
	var sent map[string]layerStats
	testtool.Eventually(t, 60*time.Second, 250*time.Millisecond, func() error {
		sent = outbound(t, bctx)
		if sent["q"].Width != 320 || sent["h"].Width != 640 || sent["f"].Width != 1280 {
			return fmt.Errorf("the browser sends layers %+v", sent)
		}
		return nil
	})

	notary := sfu.StreamID("notary:aliya")
	gets := func(says string, within time.Duration, want func(width int32) bool) {
		t.Helper()
		before, _ := cCall.ReceivedFrom(notary)
		start := time.Now()
		defer func() { t.Logf("waited %v for %s", time.Since(start).Round(time.Second), says) }()
		testtool.Eventually(t, within, 250*time.Millisecond, func() error {
			select {
			case err := <-cCall.Errors:
				t.Fatalf("call: %v", err)
			default:
			}
			v, a := cCall.ReceivedFrom(notary)
			width := videoWidth(cCall, notary)
			if v-before < 30 || a < 30 || !want(width) {
				return fmt.Errorf("the client gets %d video and %d audio packets, pictures %d wide, not %s (browser sends %v)", v-before, a, width, says, sent)
			}
			return nil
		})
	}
	gets("the best layer (1280 wide)", 90*time.Second, func(w int32) bool { return w == 1280 })
	// The browser took the server's offer of the client's tracks (which
	// asks for the same layers again) and receives them.
	testtool.Eventually(t, 30*time.Second, 250*time.Millisecond, func() error {
		if n := browserPackets(t, bctx, "video"); n < 30 {
			return fmt.Errorf("the browser received %v video packets", n)
		}
		return nil
	})

	// The client's downlink narrows: a lower layer, and the browser goes
	// on sending all three.
	if n := th.behindAllBut(browserAddrs); n == 0 {
		t.Fatal("the SFU's socket heard nothing from the client")
	}
	th.slowDown(700_000)
	gets("a lower layer (under 1280 wide)", 90*time.Second, func(w int32) bool { return w > 0 && w < 1280 })
	before := outbound(t, bctx)
	testtool.Eventually(t, 30*time.Second, 250*time.Millisecond, func() error {
		now := outbound(t, bctx)
		for _, rid := range []string{"q", "h", "f"} {
			if now[rid].Frames-before[rid].Frames < 30 {
				return fmt.Errorf("the browser stopped a layer: %+v, then %+v", before, now)
			}
		}
		return nil
	})

	// It widens again: the best layer again. The room tries the layer up
	// after a wait that doubled with each try that failed while the link
	// was narrow (up to a minute, bwe.go's probeBackoffMax), and a try
	// holds for up to probeMax while the estimate climbs; on a box whose
	// CPU is taken (the race detector, other tests) a try can fail on
	// delays that are the CPU's, not the link's, and wait a minute again.
	// So the deadline covers two such rounds (2 × (60 s + 25 s)).
	th.slowDown(0)
	gets("the best layer again (1280 wide)", 3*time.Minute, func(w int32) bool { return w == 1280 })
}

// layerStats is one simulcast layer a browser sends, from getStats.
type layerStats struct {
	Width  float64 `json:"width"`
	Frames float64 `json:"frames"`
}

// outbound is what the call's browser sends of its camera, by rid.
func outbound(t *testing.T, bctx context.Context) map[string]layerStats {
	return js[map[string]layerStats](t, bctx, `(async () => {
		const out = {};
		(await window.senim.call.pc.getStats()).forEach(r => {
			if (r.type === 'outbound-rtp' && r.kind === 'video' && r.rid && r.framesEncoded > 0)
				out[r.rid] = { width: r.frameWidth || 0, frames: r.framesEncoded }; });
		return out; })()`)
}

// videoWidth is the width of the last keyframe a call received from a
// stream's video.
func videoWidth(c *client.Call, stream string) int32 {
	for _, r := range c.Received() {
		if r.Stream == stream && r.Codec == webrtc.MimeTypeVP8 {
			return r.Width.Load()
		}
	}
	return 0
}
