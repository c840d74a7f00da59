package sfu

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/transport/v4/packetio"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
)

// wait is how long a test waits for what must come.
const wait = 30 * time.Second

// bufferSource reads a pump's buffer, as TrackRemote.Read does through
// the interceptors.
type bufferSource struct {
	b     io.Reader
	reads int // under the pump's lock
}

func (s *bufferSource) Read(p []byte) (int, interceptor.Attributes, error) {
	s.reads++
	n, err := s.b.Read(p)
	return n, nil, err
}

// pumped is a VP8 track of one layer whose buffer (SSRC 42, of a
// factory's) is pumped, and the subscriber's sink.
func pumped(t *testing.T) (*pumpFactory, *pumpBuffer, *pump, *discard) {
	pf, b, p, sink, _ := pumpedRec(t, nil)
	return pf, b, p, sink
}

// pumpedRec is pumped with the track recorded by rec, and the track's
// source.
func pumpedRec(t *testing.T, rec *recorder) (*pumpFactory, *pumpBuffer, *pump, *discard, *bufferSource) {
	t.Helper()
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	sink := &discard{}
	bind(t, local, sink)
	pf := newPumpFactory()
	b, ok := pf.buffer(packetio.RTPBufferPacket, 42).(*pumpBuffer)
	if !ok {
		t.Fatal("an RTP buffer is not a pump's")
	}
	src := &bufferSource{b: b}
	f := newForwarder(src, oneLayer(local, rec), 0, webrtc.RTPCodecTypeVideo)
	p := newPump(f.drain, f.inline)
	if !pf.attach(42, p) {
		t.Fatal("no buffer to attach to")
	}
	return pf, b, p, sink, src
}

// Once its forwarder is attached, a buffer's write forwards the packet
// before it returns, on the writer's goroutine, and allocates nothing.
func TestPumpForwardsWithinTheWrite(t *testing.T) {
	_, b, _, sink, src := pumpedRec(t, nil)
	raw := vp8Packets(t, 10)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		before := sink.n
		if _, err := b.Write(raw[i%len(raw)]); err != nil {
			t.Fatal(err)
		}
		i++
		if sink.n != before+1 {
			t.Fatalf("packet %d: the subscriber got %d packets, want %d", i, sink.n, before+1)
		}
	}); n != 0 {
		t.Errorf("pumped forwarding: %v allocations per packet", n)
	}
	// One read a packet: the drain a write runs stops when the buffer is
	// empty, without a read (through pion's interceptors) to find it so.
	if src.reads != 1000+1 {
		t.Errorf("%d reads for 1000 packets written, want one each (and AllocsPerRun's warm-up)", src.reads)
	}
	if _, err := b.Read(make([]byte, 1500)); !errors.Is(err, errNoPacket) {
		t.Fatalf("an attached buffer's read with nothing waiting: %v, want errNoPacket", err)
	}
}

// Before a forwarder attaches (pion probing a stream, its RTX reader) and
// for RTCP, a buffer is packetio.Buffer: reads block until a packet or the
// deadline, a closed buffer still gives what it holds, then io.EOF, and a
// full one refuses with ErrFull.
func TestBufferBeforeAttachIsPacketio(t *testing.T) {
	pf := newPumpFactory()
	for _, kind := range []packetio.BufferPacketType{packetio.RTPBufferPacket, packetio.RTCPBufferPacket} {
		b := pf.buffer(kind, 7)
		buf := make([]byte, 1500)
		_ = b.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		var ne net.Error
		if _, err := b.Read(buf); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("kind %d: a read past its deadline: %v, want a timeout", kind, err)
		}
		_ = b.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Time{})
		got := make(chan int, 1)
		go func() {
			n, _ := b.Read(buf)
			got <- n
		}()
		if _, err := b.Write([]byte("abc")); err != nil {
			t.Fatal(err)
		}
		if n := <-got; n != 3 {
			t.Fatalf("kind %d: the blocked read got %d bytes, want 3", kind, n)
		}
		limit := rtpBufferLimit
		if kind == packetio.RTCPBufferPacket {
			limit = rtcpBufferLimit
		}
		var err error
		for i := 0; i <= limit/1000 && err == nil; i++ {
			_, err = b.Write(make([]byte, 1000))
		}
		if !errors.Is(err, packetio.ErrFull) {
			t.Fatalf("kind %d: writing past the limit: %v, want ErrFull", kind, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := b.Read(buf); err != nil || n != 1000 {
			t.Fatalf("kind %d: a closed buffer's first read: %d, %v; want what it holds", kind, n, err)
		}
		for {
			if _, err = b.Read(buf); err != nil {
				break
			}
		}
		if err != io.EOF {
			t.Fatalf("kind %d: a closed, drained buffer: %v, want io.EOF", kind, err)
		}
	}
	if len(pf.bufs) != 0 {
		t.Fatalf("the factory holds %d closed buffers", len(pf.bufs))
	}
}

// Writes from two goroutines and kicks from a third (pion's RTX reader)
// forward every packet exactly once, one drain at a time; the buffer's
// Close ends the track's wait, after which nothing is drained.
func TestPumpDrainsOnceAtATimeAndEndsOnClose(t *testing.T) {
	pf, b, p, sink := pumped(t)
	raw := vp8Packets(t, 10)
	var running, overlap sync.Mutex
	busy := false
	hook := func() {
		running.Lock()
		if busy {
			overlap.TryLock()
		}
		busy = true
		running.Unlock()
		time.Sleep(10 * time.Microsecond)
		running.Lock()
		busy = false
		running.Unlock()
	}
	drainHook.Store(&hook)
	defer drainHook.Store(nil)
	waited := make(chan struct{})
	go func() { p.wait(); close(waited) }()
	var wg sync.WaitGroup
	const each = 500
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := b.Write(raw[i%len(raw)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop, kicked := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(kicked)
		for {
			select {
			case <-stop:
				return
			default:
				pf.kick()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-kicked
	// Every packet is forwarded by some drain: poll as one more holder of
	// the pump's lock would (the lock taken, what waits forwarded).
	testtool.Eventually(t, wait, time.Millisecond, func() error {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.drain(nil) {
			t.Fatal("the track ended")
		}
		if sink.n != 2*each {
			return fmt.Errorf("the subscriber got %d packets, want %d", sink.n, 2*each)
		}
		return nil
	})
	if !overlap.TryLock() {
		t.Fatal("two drains ran at once")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the track's goroutine did not end with its buffer")
	}
	pf.detach(p)
	// Written after the end (pion closes, then a late packet): not forwarded.
	_, _ = b.Buffer.Write(raw[0])
	p.run()
	p.mu.Lock()
	defer p.mu.Unlock()
	if sink.n != 2*each {
		t.Fatalf("forwarded after the end: %d packets", sink.n)
	}
	if ps := pf.pumps.Load(); ps != nil && len(*ps) != 0 {
		t.Fatalf("%d pumps left after the track ended", len(*ps))
	}
}

// A write that finds a drain running (another SSRC's repair kick, or a
// second writer) does not wait for it: it leaves its packet to that drain,
// which forwards it before it lets go.
func TestWriteDoesNotWaitForARunningDrain(t *testing.T) {
	_, b, p, sink := pumped(t)
	raw := vp8Packets(t, 2)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	drainHook.Store(&hook)
	defer drainHook.Store(nil)
	first := make(chan struct{})
	go func() {
		defer close(first)
		p.run() // the drain that holds on
	}()
	<-entered
	wrote := make(chan error, 1)
	go func() {
		_, err := b.Write(raw[0])
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the write waited for the running drain")
	}
	close(release)
	<-first
	if sink.n != 1 {
		t.Fatalf("the subscriber got %d packets, want the one written during the drain", sink.n)
	}
}

// A recording whose ring is half full (its writer behind, the disk slow)
// may soon make the forward wait for space: the track's own goroutine
// forwards then, not the publisher's SRTP session.
func TestFillingRecordingIsForwardedOffTheWriter(t *testing.T) {
	rec := &recorder{slots: make([]slot, ringSlots), kick: make(chan struct{}, 1), space: make(chan struct{}, 1)}
	_, b, p, sink, _ := pumpedRec(t, rec)
	raw := vp8Packets(t, 2)
	if _, err := b.Write(raw[0]); err != nil {
		t.Fatal(err)
	}
	if sink.n != 1 {
		t.Fatalf("the subscriber got %d packets, want 1 forwarded within the write", sink.n)
	}
	rec.tail.Store(ringSlots / 2)
	if _, err := b.Write(raw[1]); err != nil {
		t.Fatal(err)
	}
	if sink.n != 1 {
		t.Fatalf("the subscriber got %d packets: forwarded by the writer with the ring half full", sink.n)
	}
	select {
	case <-p.wakeC:
	default:
		t.Fatal("the track's goroutine was not woken")
	}
	p.run()
	if sink.n != 2 {
		t.Fatalf("the subscriber got %d packets, want 2 after the track's drain", sink.n)
	}
}

// rtxSource is a track as TrackRemote reads it: a repaired packet pion's
// RTX reader handed over first (a channel), then its buffer.
type rtxSource struct {
	repairs chan []byte
	b       io.Reader
}

func (s rtxSource) Read(p []byte) (int, interceptor.Attributes, error) {
	select {
	case r := <-s.repairs:
		return copy(p, r), nil, nil
	default:
	}
	n, err := s.b.Read(p)
	return n, nil, err
}

// pion's RTX reader, coming back to its buffer for the next repair, runs
// the connection's pumps: the repair it handed over is forwarded then,
// not with the track's next packet (which may be far off: a still
// screen).
func TestRepairIsForwardedWhenTheRTXReaderComesBack(t *testing.T) {
	local, err := webrtc.NewTrackLocalStaticRTP(VP8.RTPCodecCapability, "v", "s")
	if err != nil {
		t.Fatal(err)
	}
	sink := &discard{}
	bind(t, local, sink)
	pf := newPumpFactory()
	media := pf.buffer(packetio.RTPBufferPacket, 42).(*pumpBuffer)
	rtx := pf.buffer(packetio.RTPBufferPacket, 43)
	src := rtxSource{repairs: make(chan []byte, 1), b: media}
	f := newForwarder(src, oneLayer(local, nil), 0, webrtc.RTPCodecTypeVideo)
	p := newPump(f.drain, f.inline)
	if !pf.attach(42, p) {
		t.Fatal("no buffer to attach to")
	}
	raw := vp8Packets(t, 2)
	if _, err := media.Write(raw[0]); err != nil {
		t.Fatal(err)
	}
	src.repairs <- raw[1] // the RTX reader hands a repair over...
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = rtx.Read(make([]byte, 1500)) // ...and comes back for the next
	}()
	// What the forwarder took, counted as it takes it (the lock of the
	// pump is not the test's to take: a kick finding it taken would leave
	// the repair to the test).
	want := int64(len(raw[0]) + len(raw[1]))
	testtool.Eventually(t, wait, time.Millisecond, func() error {
		if got := f.layer.bytes.Load(); got != want {
			return fmt.Errorf("the forwarder took %d bytes, want %d (the repair too)", got, want)
		}
		return nil
	})
	_ = rtx.Close()
	<-done
}
