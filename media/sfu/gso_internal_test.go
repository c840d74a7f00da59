//go:build linux

package sfu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/senim-kz/senim/internal/testtool"
)

// rtpPacket is an RTP packet of ssrc, seq and size bytes; marker: the
// last of its frame.
func rtpPacket(ssrc uint32, seq uint16, size int, marker bool) []byte {
	b := make([]byte, size)
	b[0], b[1] = 0x80, 96
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	for i := 12; i < size; i++ {
		b[i] = byte(int(seq) + i)
	}
	return b
}

// gsoPair is an SFU socket and a plain one to talk to it, on network's
// loopback at ip; the test is skipped where there is none. The socket's
// held frames wait for their last packet however long the test takes to
// send it (a busy machine can pause a test past gsoHold between two
// writes), so what the tests count is what the socket decides, not when
// its timer fired.
func gsoPair(t *testing.T, network, ip string) (*gsoConn, *net.UDPConn) {
	t.Helper()
	n, err := newGSONet()
	if err != nil {
		t.Fatal(err)
	}
	uc, err := n.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	peer, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	c := uc.(*gsoConn)
	c.mu.Lock()
	c.hold = time.Hour
	c.mu.Unlock()
	return c, peer
}

// A video frame's full-size packets to one address leave in one send with
// its last one; audio and RTCP in between go at once; a frame whose last
// packet does not come leaves when its timer fires (gsoHold). The
// receiver gets every packet, each as it was sent, each stream in order.
func TestSegmentedFrames(t *testing.T) {
	c, rx := gsoPair(t, "udp4", "127.0.0.1")
	dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()

	var want [][]byte
	send := func(b []byte) {
		t.Helper()
		if _, err := c.WriteToAddrPort(b, dst); err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
	}
	// A frame of 5 full-size packets and a short last one, an audio packet
	// and an RTCP one in its middle.
	for i := range 5 {
		send(rtpPacket(1, uint16(i), 1200, false))
		if i == 2 {
			send(rtpPacket(2, 7, 120, false))
			rtcpPkt := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			send(rtcpPkt)
		}
	}
	send(rtpPacket(1, 5, 700, true))
	// A frame whose last packet never comes.
	send(rtpPacket(1, 6, 1200, false))
	send(rtpPacket(1, 7, 1200, false))
	// Its timer is armed; it fires now rather than after the test's hold.
	c.mu.Lock()
	armed := c.timer.Reset(time.Millisecond)
	c.mu.Unlock()
	if !armed {
		t.Fatal("a frame is held with no timer to send it")
	}

	got := map[string]bool{}
	buf := make([]byte, 2000)
	_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	var order []uint16
	for len(got) < len(want) {
		k, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("received %d of %d packets: %v", len(got), len(want), err)
		}
		got[string(buf[:k])] = true
		if buf[1]&0x7f == 96 && binary.BigEndian.Uint32(buf[8:]) == 1 {
			order = append(order, binary.BigEndian.Uint16(buf[2:]))
		}
	}
	for i, w := range want {
		if !got[string(w)] {
			t.Errorf("packet %d (%d bytes) not received as sent", i, len(w))
		}
	}
	if fmt.Sprint(order) != "[0 1 2 3 4 5 6 7]" {
		t.Errorf("the video stream came in the order %v", order)
	}
	testtool.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.off {
			t.Skip("this kernel does not segment UDP (UDP_SEGMENT refused)")
		}
		// The first frame in one send (6 packets), the unfinished one in
		// another (2).
		if c.segmented != 2 || c.n != 0 {
			return fmt.Errorf("%d segmented sends, %d packets held; want 2 and 0", c.segmented, c.n)
		}
		return nil
	})
	if bytes.Equal(want[0], want[1]) {
		t.Fatal("the test's packets must differ")
	}
}

// serverSocket is an SFU socket on 127.0.0.1 as the server makes it,
// closed when the test ends.
func serverSocket(tb testing.TB) *gsoConn {
	tb.Helper()
	n, err := newGSONet()
	if err != nil {
		tb.Fatal(err)
	}
	uc, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = uc.Close() })
	return uc.(*gsoConn)
}

// receiveInOrder reads want's packets from rx, each whole and as sent, in
// order.
func receiveInOrder(t *testing.T, rx *net.UDPConn, want [][]byte) {
	t.Helper()
	buf := make([]byte, 2000)
	_ = rx.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, w := range want {
		k, err := rx.Read(buf)
		if err != nil {
			t.Fatalf("received %d of %d packets: %v", i, len(want), err)
		}
		if !bytes.Equal(buf[:k], w) {
			t.Fatalf("packet %d: %d bytes (seq %d), want %d as sent", i, k, binary.BigEndian.Uint16(buf[2:]), len(w))
		}
	}
}

// A socket as the server makes it holds a frame's packets gsoHold at most:
// a frame whose last packet never comes leaves by itself.
func TestHeldFrameLeavesByItself(t *testing.T) {
	c := serverSocket(t)
	if c.hold != gsoHold {
		t.Fatalf("the socket holds a frame %v, want %v", c.hold, gsoHold)
	}
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	want := [][]byte{rtpPacket(1, 1, 1200, false), rtpPacket(1, 2, 1200, false)}
	for _, b := range want {
		if _, err := c.WriteToAddrPort(b, rx.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	receiveInOrder(t, rx, want)
}

// A browser's frame whose packets differ in size by a byte is held whole
// all the same and leaves in one system call (sendmmsg: each run of equal
// packets one segmented message); the receiver gets every packet as it
// was sent, in order, over IPv4 and IPv6.
func TestUnequalFrameOneSend(t *testing.T) {
	for _, tc := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tc.network, func(t *testing.T) {
			c, rx := gsoPair(t, tc.network, tc.ip)
			dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			sizes := []int{1200, 1201, 1201, 1200, 1200, 1199, 1201, 700}
			var want [][]byte
			for i, size := range sizes {
				b := rtpPacket(1, uint16(i), size, i == len(sizes)-1)
				if _, err := c.WriteToAddrPort(b, dst); err != nil {
					t.Fatal(err)
				}
				want = append(want, b)
			}
			c.mu.Lock()
			off, segmented, multi, held := c.off, c.segmented, c.multi, c.n
			c.mu.Unlock()
			if off {
				t.Skip("this kernel does not segment UDP (UDP_SEGMENT refused)")
			}
			if segmented != 1 || multi != 1 || held != 0 {
				t.Fatalf("%d segmented sends, %d sendmmsg, %d packets held; want the frame in one sendmmsg", segmented, multi, held)
			}
			receiveInOrder(t, rx, want)
		})
	}
}

// BenchmarkUnequalFrame is what sending a browser-like frame costs, 7
// packets whose sizes differ by a byte (1200, 1201, 1201, 1200, 1200,
// 1201, 700): "sendmmsg" as the socket sends it (one system call),
// "run-a-send" one segmented send per run of equal packets (4 calls),
// about what a change of size cost before: the held packets went and a
// new run began. cpu-ns/frame counts the process's CPU, the receiver's
// goroutine included (the same in both).
//
//	go test ./media/sfu -run '^$' -bench UnequalFrame -count 3
func BenchmarkUnequalFrame(b *testing.B) {
	sizes := []int{1200, 1201, 1201, 1200, 1200, 1201, 700}
	for _, mode := range []string{"sendmmsg", "run-a-send"} {
		b.Run(mode, func(b *testing.B) {
			c := serverSocket(b)
			if mode == "run-a-send" {
				c.raw = nil
			}
			rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			go func() {
				buf := make([]byte, 2000)
				for {
					if _, err := rx.Read(buf); err != nil {
						return
					}
				}
			}()
			dst := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			var pkts [][]byte
			for i, size := range sizes {
				pkts = append(pkts, rtpPacket(1, uint16(i), size, i == len(sizes)-1))
			}
			cpu0 := rusageCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, p := range pkts {
					if _, err := c.WriteToAddrPort(p, dst); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(rusageCPU(b)-cpu0)/float64(b.N), "cpu-ns/frame")
			if c.off {
				b.Skip("this kernel does not segment UDP")
			}
		})
	}
}
