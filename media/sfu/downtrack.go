package sfu

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Simulcast: a browser sends its camera in up to three layers, told apart
// by their RTP stream id (rid). The SFU asks for these three in its offers;
// any other rid is not forwarded.
const (
	maxLayers = 3
	noLayer   = -1
)

// simulcastRIDs are the layers' rids, lowest first: about 180p, 360p, 720p.
var simulcastRIDs = [maxLayers]string{"q", "h", "f"}

// layerOf is the index of a rid among simulcastRIDs; a track without rid
// (no simulcast) is layer 0. ok is false for a rid Senim does not ask for.
func layerOf(rid string) (int, bool) {
	if rid == "" {
		return 0, true
	}
	for i, r := range simulcastRIDs {
		if r == rid {
			return i, true
		}
	}
	return 0, false
}

// downTrack is what one subscriber gets of one published track: its own
// local track, fed from the layer chosen for it. Whatever the layer, the
// subscriber sees one stream: one SSRC (pion's, per sender), and sequence
// numbers and timestamps that go on across a switch. A video switch
// happens on a keyframe of the new layer; pausing (no layer) takes effect
// at once.
type downTrack struct {
	t     *published
	sub   *peer
	clock int64 // the codec's clock rate
	// dst is the local track the subscriber's sender is bound to; unred:
	// it takes Opus of a publisher's RED (see redLocal).
	dst   atomic.Pointer[webrtc.TrackLocalStaticRTP]
	unred atomic.Bool

	// target is the layer the subscriber is to get (noLayer: none, the
	// video is paused); cur is the one it gets now. target is set by the
	// room's layer choice; cur changes under mu, on the forwarding path.
	target, cur atomic.Int32

	mu      sync.Mutex
	started bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16
	lastTS  uint32
	lastAt  int64 // unix ns of the last packet sent
	out     rtp.Packet

	// The room's layer choice alone touches these (under the room's lock).
	nextProbe time.Time     // an upgrade beyond what the estimate shows is tried no sooner
	backoff   time.Duration // the wait before the next such try
	upAt      time.Time     // the last upgrade
	// try: the last upgrade was a try beyond what the estimate showed;
	// tryFailed: it did not hold.
	try       trial
	tryFailed bool
}

func newDownTrack(t *published, sub *peer, local *webrtc.TrackLocalStaticRTP) *downTrack {
	d := &downTrack{t: t, sub: sub, clock: int64(t.codec.ClockRate), backoff: probeBackoff}
	d.dst.Store(local)
	if d.clock == 0 {
		d.clock = 90000
	}
	d.cur.Store(noLayer)
	d.target.Store(int32(t.best()))
	return d
}

// write sends p, a packet of layer, to the subscriber if it is the layer
// the subscriber gets, or the keyframe that starts the layer it is to get.
// primary is the Opus in a RED packet (nil if none). It allocates nothing.
func (d *downTrack) write(layer int32, p *rtp.Packet, primary []byte, key bool, now int64) {
	if layer != d.cur.Load() && layer != d.target.Load() {
		return
	}
	d.mu.Lock()
	target, cur := d.target.Load(), d.cur.Load()
	switch {
	case layer != cur:
		if layer != target || !key {
			d.mu.Unlock()
			return
		}
		// Switch: the new layer's first packet follows the last one sent,
		// its timestamp as far on as the time that passed.
		if d.started {
			d.seqOff = p.SequenceNumber - d.lastSeq - 1
			ticks := uint32((now - d.lastAt) * d.clock / int64(time.Second))
			if ticks == 0 {
				ticks = 1
			}
			d.tsOff = p.Timestamp - (d.lastTS + ticks)
		}
		d.started = true
		d.cur.Store(layer)
	case target == noLayer:
		d.cur.Store(noLayer) // paused from now on
		d.mu.Unlock()
		return
	}
	d.out.Header = p.Header
	d.out.SequenceNumber = p.SequenceNumber - d.seqOff
	d.out.Timestamp = p.Timestamp - d.tsOff
	// The publisher's header extensions are numbered for its connection,
	// not the subscriber's: the sender's interceptors add the subscriber's.
	d.out.Extension, d.out.ExtensionProfile, d.out.Extensions = false, 0, nil
	d.out.Payload, d.out.PaddingSize = p.Payload, p.PaddingSize
	if primary != nil && d.unred.Load() {
		d.out.Payload = primary
	}
	d.lastSeq, d.lastTS, d.lastAt = d.out.SequenceNumber, d.out.Timestamp, now
	_ = d.dst.Load().WriteRTP(&d.out) // fails only when nobody is bound yet
	d.mu.Unlock()
}

// isKeyframe reports whether an RTP payload of codec starts a keyframe:
// for VP8 the first packet of a key frame (RFC 7741: S set, partition 0,
// P bit clear); audio packets are all "keyframes".
func isKeyframe(kind webrtc.RTPCodecType, payload []byte) bool {
	if kind != webrtc.RTPCodecTypeVideo {
		return true
	}
	if len(payload) < 1 {
		return false
	}
	b := payload[0]
	if b&0x10 == 0 || b&0x07 != 0 { // S, PartID
		return false
	}
	i := 1
	if b&0x80 != 0 { // X: extension byte(s)
		if len(payload) < 2 {
			return false
		}
		x := payload[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if len(payload) <= i {
				return false
			}
			if payload[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	return len(payload) > i && payload[i]&0x01 == 0
}

// simulcastOffer adds, to the offer's m-section of mid, the three layers
// Senim receives (RFC 8853: a=rid … recv, a=simulcast:recv), so that a
// browser answering it sends its camera in three layers. pion makes no such
// offer itself; its local description stays without them, and it learns
// the layers from the answer.
func simulcastOffer(sdp, mid string) string {
	if mid == "" {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\r\n")
	var b strings.Builder
	in := false
	added := false
	flush := func() {
		if in && !added {
			for _, rid := range simulcastRIDs {
				b.WriteString("a=rid:" + rid + " recv\r\n")
			}
			b.WriteString("a=simulcast:recv " + strings.Join(simulcastRIDs[:], ";") + "\r\n")
			added = true
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "m=") {
			flush()
			in = false
		}
		if strings.TrimRight(l, "\r\n") == "a=mid:"+mid && !added {
			in = true
		}
		b.WriteString(l)
	}
	flush()
	return b.String()
}

// answerWithoutRecvRIDs drops from an answer the layers it would receive
// (a=rid … recv, a=simulcast:recv): the SFU sends no simulcast, and an
// answerer that echoes the offer's receive layers (pion does) would make the
// SFU wait for layers that never come.
func answerWithoutRecvRIDs(sdp string) string {
	if !strings.Contains(sdp, " recv") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\r\n")
	var b strings.Builder
	for _, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(t, "a=simulcast:recv") || (strings.HasPrefix(t, "a=rid:") && strings.Contains(t, " recv")) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// RED (RFC 2198) for Opus: a browser that offers it sends each audio
// packet with the one before as well, so that a single loss costs nothing.
// A subscriber that takes RED gets the packets as they are; one that does
// not gets the primary Opus alone, as does the recording.

// redPrimary is the primary block of a RED payload (the last one, after
// the redundant ones), or false if the payload is not well-formed RED.
func redPrimary(p []byte) ([]byte, bool) {
	i, skip := 0, 0
	for {
		if i >= len(p) {
			return nil, false
		}
		if p[i]&0x80 == 0 { // the last header: F clear, one byte
			i++
			break
		}
		if i+4 > len(p) {
			return nil, false
		}
		skip += int(binary.BigEndian.Uint16(p[i+2:i+4]) & 0x03ff)
		i += 4
	}
	if i+skip > len(p) {
		return nil, false
	}
	return p[i+skip:], true
}

// redLocal is a subscriber's track of a publisher's RED audio: bound as
// RED where the subscriber's answer takes it, as Opus otherwise (and then
// the down track sends the primary blocks alone).
type redLocal struct {
	red, opus *webrtc.TrackLocalStaticRTP
	d         *downTrack
}

func newRedLocal(id, stream string) (*redLocal, error) {
	red, err := webrtc.NewTrackLocalStaticRTP(RED.RTPCodecCapability, id, stream)
	if err != nil {
		return nil, err
	}
	opus, err := webrtc.NewTrackLocalStaticRTP(Opus.RTPCodecCapability, id, stream)
	if err != nil {
		return nil, err
	}
	return &redLocal{red: red, opus: opus}, nil
}

func (l *redLocal) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	if c, err := l.red.Bind(ctx); err == nil {
		l.d.dst.Store(l.red)
		l.d.unred.Store(false)
		return c, nil
	}
	c, err := l.opus.Bind(ctx)
	if err == nil {
		l.d.dst.Store(l.opus)
		l.d.unred.Store(true)
	}
	return c, err
}

func (l *redLocal) Unbind(ctx webrtc.TrackLocalContext) error {
	errRed, errOpus := l.red.Unbind(ctx), l.opus.Unbind(ctx)
	if errRed != nil && errOpus != nil {
		return errOpus
	}
	return nil
}

func (l *redLocal) ID() string                { return l.opus.ID() }
func (l *redLocal) RID() string               { return "" }
func (l *redLocal) StreamID() string          { return l.opus.StreamID() }
func (l *redLocal) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }
