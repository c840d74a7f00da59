package sfu

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"

	"github.com/senim-kz/senim/internal/testtool"
)

const fbExt = 3 // the transport-wide extension's id in these tests

// numbered is a reader of packets numbered from first, each carrying its
// transport-wide sequence number.
type numbered struct {
	t    *testing.T
	next uint16
	buf  []byte
}

func (n *numbered) Read(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: n.next, SSRC: 5}, Payload: []byte{1, 2, 3}}
	var ext [2]byte
	ext[0], ext[1] = byte(n.next>>8), byte(n.next)
	if err := p.SetExtension(fbExt, ext[:]); err != nil {
		n.t.Error(err)
	}
	n.next++
	raw, err := p.MarshalTo(n.buf)
	if err != nil {
		return 0, nil, err
	}
	return copy(b, n.buf[:raw]), a, nil
}

// rtcpSink collects the feedback written; while block is set, Write
// waits until it is cleared.
type rtcpSink struct {
	mu      sync.Mutex
	fbs     []*rtcp.TransportLayerCC
	block   atomic.Bool
	blocked atomic.Bool
}

func (s *rtcpSink) Write(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
	for s.block.Load() {
		s.blocked.Store(true)
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			s.fbs = append(s.fbs, fb)
		}
	}
	return 0, nil
}

// reported is how many packets the feedback so far reports received, and
// the lowest base sequence number.
func (s *rtcpSink) reported() (int, uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, base := 0, uint16(0xFFFF)
	for _, fb := range s.fbs {
		base = min(base, fb.BaseSequenceNumber)
		n += len(fb.RecvDeltas)
	}
	return n, base
}

func newFeedbackStream(t *testing.T, first uint16) (interceptor.Interceptor, interceptor.RTPReader, *rtcpSink) {
	t.Helper()
	i, err := feedbackFactory{interval: 20 * time.Millisecond}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = i.Close() })
	sink := &rtcpSink{}
	i.BindRTCPWriter(sink)
	info := &interceptor.StreamInfo{SSRC: 5, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: fbExt}}}
	return i, i.BindRemoteStream(info, &numbered{t: t, next: first, buf: make([]byte, 1500)}), sink
}

// Every numbered packet read is reported, from the first one's number on.
func TestFeedbackReportsWhatArrives(t *testing.T) {
	_, r, sink := newFeedbackStream(t, 100)
	buf := make([]byte, 1500)
	for range 20 {
		if _, _, err := r.Read(buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	testtool.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n, base := sink.reported(); n != 20 || base != 100 {
			return fmt.Errorf("%d packets reported from %d, want 20 from 100", n, base)
		}
		return nil
	})
}

// A read never waits for the reports: with the connection's RTCP write
// stalled (the feedback goroutine inside it), packets are still read.
// (pion's SenderInterceptor hands every packet to that goroutine, and its
// reads stop here.)
func TestFeedbackReadDoesNotWaitForTheReports(t *testing.T) {
	_, r, sink := newFeedbackStream(t, 0)
	sink.block.Store(true)
	defer sink.block.Store(false)
	buf := make([]byte, 1500)
	for range 5 {
		if _, _, err := r.Read(buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	testtool.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if !sink.blocked.Load() {
			return errors.New("the feedback's write not yet reached")
		}
		return nil
	})
	var read atomic.Int64
	go func() {
		for range 500 {
			if _, _, err := r.Read(buf, nil); err != nil {
				return
			}
			read.Add(1)
		}
	}()
	testtool.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := read.Load(); n != 500 {
			return fmt.Errorf("%d of 500 packets read while the reports are stalled", n)
		}
		return nil
	})
}

// Recording a packet's arrival allocates nothing.
func TestFeedbackReadAllocations(t *testing.T) {
	_, r, _ := newFeedbackStream(t, 0)
	buf := make([]byte, 1500)
	src := r.(*feedbackReader).next.(*numbered)
	_, _, _ = r.Read(buf, nil) // the header's extensions, once
	if a := testing.AllocsPerRun(200, func() {
		_, _, _ = r.Read(buf, nil)
	}) - testing.AllocsPerRun(200, func() {
		_, _, _ = src.Read(buf, nil)
	}); a > 0 {
		t.Errorf("%.1f allocations per packet recorded", a)
	}
}

// A stream without the extension negotiated is read as it is.
func TestFeedbackWithoutTheExtension(t *testing.T) {
	i, err := feedbackFactory{interval: 20 * time.Millisecond}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	defer i.Close()
	src := &numbered{t: t, buf: make([]byte, 1500)}
	if r := i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 5}, src); r != interceptor.RTPReader(src) {
		t.Error("a stream without transport-wide numbers is wrapped")
	}
}
