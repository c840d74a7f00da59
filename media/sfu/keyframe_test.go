package sfu_test

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
)

// A publisher that sends keyframes only when asked, as browsers do, and two
// subscribers joining one after the other: the second one's keyframe
// request comes within the PLI interval of the first's and is dropped, and
// the keyframe the first request brought went by before the second was
// subscribed. The second still gets video: a subscriber waiting for a
// keyframe asks again (the registrar who reloaded the page in the middle of
// a call got audio and no video at all).
func TestLateSubscriberAsksAgainForAKeyframe(t *testing.T) {
	c := newCall(t, newSFU(t, 3*time.Second), t.TempDir())
	net := sfu.Config{LoopbackOnly: true}
	c.joinPublishing("notary:aliya", net, webrtc.Configuration{}, func(p *peer.Peer) error {
		p.KeyframesOnRequest = true
		return p.Publish(c.ctx, sfu.StreamID("notary:aliya"), 300_000)
	})
	watch := func(*peer.Peer) error { return nil }
	first := c.joinPublishing("client:871008401427", net, webrtc.Configuration{}, watch)
	hears(t, first, "notary:aliya")
	second := c.joinPublishing("client:900101300011", net, webrtc.Configuration{}, watch)
	hears(t, second, "notary:aliya")
}
