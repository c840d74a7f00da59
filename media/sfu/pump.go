package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/transport/v4/packetio"
)

// The pump (issue 14): a published track's packets are forwarded on the
// goroutine that decrypts them, the publisher's SRTP session's, instead of
// being handed over to a reader goroutine of the track's own.
//
// pion's SRTP session decrypts each packet and writes it into its SSRC's
// read buffer, made by the SettingEngine's BufferFactory; the application
// reads it from there through TrackRemote.Read and the interceptors (NACK
// generator, transport-wide feedback, receiver reports). Each connection
// of the SFU has its own factory (pumpFactory): its RTP buffers
// (pumpBuffer) are packetio.Buffers, as pion's own, until the track's
// forwarder attaches to one. From then on a write runs the forwarder's
// drain on the writing goroutine: the drain calls TrackRemote.Read, which
// reads the packet just written through the interceptors, so they still
// see every packet, and returns errNoPacket instead of blocking once the
// buffer is empty. That saves a hand-off per packet: the track reader's
// wake-up, its futex and the scheduler's work on it.
//
// A drain runs on one goroutine at a time (pump.run); a write that finds
// one running leaves its packet to it and returns at once, so no lock is
// held while forwarding and the SRTP session never waits for another
// goroutine's forward.
//
// Where a forward may block, the track's own goroutine drains instead,
// woken as before (forwarder.inline false): a subscriber reached over
// ICE-TCP (or through a relay of the SFU's), whose writes can wait for
// the peer's window (pion's deadline is 5 s), or a recording whose ring
// is half full (a full one waits for the disk), would otherwise hold up
// the publisher's other tracks, which share its SRTP session.
//
// Repairs: pion's repair reader (a goroutine per RTX stream) hands each
// RTX packet it reads to TrackRemote.Read through a channel. It comes
// back to its buffer's Read once it has; that Read (of a buffer no
// forwarder attached to) runs the connection's pumps, so a repair waits
// for no later packet of its track.

// errNoPacket is what an attached buffer's Read returns when nothing is
// waiting: the drain is over.
var errNoPacket = errors.New("sfu: no packet waiting")

// pion's own limits on a read buffer (srtp: srtpBufferSize,
// srtcpBufferSize).
const (
	rtpBufferLimit  = 1000 * 1000
	rtcpBufferLimit = 100 * 1000
)

// pumpFactory makes one connection's read buffers and finds a track's.
type pumpFactory struct {
	mu   sync.Mutex
	bufs map[uint32]*pumpBuffer // RTP, by SSRC
	// pumps are the attached buffers' pumps, replaced whole (under mu).
	pumps atomic.Pointer[[]*pump]
}

func newPumpFactory() *pumpFactory {
	return &pumpFactory{bufs: map[uint32]*pumpBuffer{}}
}

// buffer is the SettingEngine's BufferFactory.
func (f *pumpFactory) buffer(kind packetio.BufferPacketType, ssrc uint32) io.ReadWriteCloser {
	b := packetio.NewBuffer()
	if kind != packetio.RTPBufferPacket {
		b.SetLimitSize(rtcpBufferLimit)
		return b
	}
	b.SetLimitSize(rtpBufferLimit)
	pb := &pumpBuffer{Buffer: b, f: f, ssrc: ssrc}
	f.mu.Lock()
	f.bufs[ssrc] = pb
	f.mu.Unlock()
	return pb
}

// attach makes p the pump of the RTP buffer of ssrc; false: there is no
// such buffer (or it has a pump already), and the track is read as before.
func (f *pumpFactory) attach(ssrc uint32, p *pump) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bufs[ssrc]
	if b == nil || b.p.Load() != nil {
		return false
	}
	p.buf, p.more = b, b.waiting
	// pion may have left a deadline of its own probing on the buffer; a
	// drain's read must find the packet or errNoPacket, never a timeout.
	_ = b.SetReadDeadline(time.Time{})
	b.p.Store(p)
	f.setPumpsLocked(p, nil)
	return true
}

// detach forgets p (its track ended).
func (f *pumpFactory) detach(p *pump) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.buf != nil {
		p.buf.p.CompareAndSwap(p, nil)
	}
	f.setPumpsLocked(nil, p)
}

func (f *pumpFactory) setPumpsLocked(add, drop *pump) {
	var next []*pump
	if cur := f.pumps.Load(); cur != nil {
		for _, x := range *cur {
			if x != drop {
				next = append(next, x)
			}
		}
	}
	if add != nil {
		next = append(next, add)
	}
	f.pumps.Store(&next)
}

// kick runs every attached pump: a repair may be waiting for its track.
func (f *pumpFactory) kick() {
	if ps := f.pumps.Load(); ps != nil {
		for _, p := range *ps {
			p.wake(true)
		}
	}
}

func (f *pumpFactory) forget(b *pumpBuffer) {
	f.mu.Lock()
	if f.bufs[b.ssrc] == b {
		delete(f.bufs, b.ssrc)
	}
	f.mu.Unlock()
}

// pumpBuffer is an SSRC's RTP read buffer: a packetio.Buffer, which runs
// its pump, once one is attached, after each write.
type pumpBuffer struct {
	*packetio.Buffer
	f    *pumpFactory
	ssrc uint32
	p    atomic.Pointer[pump]
}

// Write stores the packet, then forwards what waits (or wakes the track's
// goroutine to).
func (b *pumpBuffer) Write(pkt []byte) (int, error) {
	n, err := b.Buffer.Write(pkt)
	if err == nil {
		if p := b.p.Load(); p != nil {
			p.wake(false)
		}
	}
	return n, err
}

// Read is packetio.Buffer's until a pump is attached; then it never
// blocks: errNoPacket when nothing waits.
func (b *pumpBuffer) Read(pkt []byte) (int, error) {
	if b.p.Load() != nil {
		if b.Buffer.Count() == 0 {
			return 0, errNoPacket
		}
		return b.Buffer.Read(pkt)
	}
	// pion's reader of an RTX stream (or of an SSRC being probed) comes
	// back for the next packet: the last one it read is with its track.
	b.f.kick()
	return b.Buffer.Read(pkt)
}

// waiting: a packet is in the buffer.
func (b *pumpBuffer) waiting() bool { return b.Buffer.Count() > 0 }

// Close closes the buffer and ends its track's pump.
func (b *pumpBuffer) Close() error {
	err := b.Buffer.Close()
	b.f.forget(b)
	if p := b.p.Load(); p != nil {
		p.end()
	}
	return err
}

// pump runs one track's drain, on one goroutine at a time.
type pump struct {
	// drain forwards what waits; false: the track ended. With more, it
	// stops once more is false after a packet (the buffer is empty: no
	// read to find it so); without, at errNoPacket (what pion holds back,
	// its peeked packets and repairs, comes before the buffer's).
	drain func(more func() bool) bool
	// inline: the drain may run on the writer's goroutine; otherwise it
	// runs on the track's own (wakeC).
	inline func() bool
	buf    *pumpBuffer
	more   func() bool // buf.waiting, once attached (made once: no allocation a drain)

	mu      sync.Mutex // held while draining
	pending atomic.Bool
	full    atomic.Bool // the next drain goes on to errNoPacket
	stopped bool        // under mu: the track's goroutine is done with it
	wakeC   chan struct{}
	done    chan struct{}
	once    sync.Once
}

// drainHook, in tests, is told of each drain, on its goroutine.
var drainHook atomic.Pointer[func()]

func newPump(drain func(more func() bool) bool, inline func() bool) *pump {
	return &pump{drain: drain, inline: inline, wakeC: make(chan struct{}, 1), done: make(chan struct{})}
}

// wake forwards what waits: here, or on the track's goroutine. full: not
// only what the buffer holds (a repair pion handed over, say).
func (p *pump) wake(full bool) {
	if full {
		p.full.Store(true)
	}
	if p.inline() {
		p.run()
		return
	}
	select {
	case p.wakeC <- struct{}{}:
	default:
	}
}

// run drains unless another goroutine is draining: that one then drains
// again for what this one came for.
func (p *pump) run() {
	p.pending.Store(true)
	for p.pending.Load() {
		if !p.mu.TryLock() {
			return
		}
		p.pending.Store(false)
		if !p.stopped {
			if h := drainHook.Load(); h != nil {
				(*h)()
			}
			var more func() bool
			if !p.full.Swap(false) {
				more = p.more
			}
			if !p.drain(more) {
				p.end()
			}
		}
		p.mu.Unlock()
	}
}

// end tells the track's goroutine the track is over.
func (p *pump) end() { p.once.Do(func() { close(p.done) }) }

// wait is the track's goroutine: it drains when woken, until the track
// ends; after it returns no drain runs.
func (p *pump) wait() {
	p.full.Store(true)
	p.run() // what came before the pump was attached (pion's peeked packets too)
	for {
		select {
		case <-p.wakeC:
			p.run()
		case <-p.done:
			p.mu.Lock()
			p.stopped = true
			p.mu.Unlock()
			return
		}
	}
}
