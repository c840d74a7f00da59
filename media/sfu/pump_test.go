package sfu_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
)

// drainCounter counts the pumps' drains by the goroutine they ran on.
type drainCounter struct {
	mu sync.Mutex
	by map[string]int
}

func countDrains(t *testing.T) *drainCounter {
	d := &drainCounter{by: map[string]int{}}
	buf := make([]byte, 64<<10)
	var bufMu sync.Mutex
	t.Cleanup(sfu.OnDrain(func() {
		bufMu.Lock()
		stack := string(buf[:runtime.Stack(buf, false)])
		bufMu.Unlock()
		where := "other"
		switch {
		case strings.Contains(stack, "pion/srtp/v3.(*session).start"):
			where = "srtp"
		case strings.Contains(stack, "sfu.(*pump).wait"):
			where = "track"
		}
		d.mu.Lock()
		d.by[where]++
		d.mu.Unlock()
	}))
	return d
}

func (d *drainCounter) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return fmt.Sprint(d.by)
}

func (d *drainCounter) get(where string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.by[where]
}

// goroutinesIn counts the goroutines whose stack has fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 8<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// A published track is forwarded on the publisher's SRTP session's
// goroutine, the one that decrypts its packets (pump.go), not on a reader
// goroutine of its own: no track's goroutine reads, each waits for its
// track's end.
func TestForwardingRunsOnTheSRTPGoroutine(t *testing.T) {
	// The tracks of the tests before are gone (their rooms closed).
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		if n := goroutinesIn("sfu.(*pump).wait"); n != 0 {
			return fmt.Errorf("%d tracks of earlier tests still wait on a pump", n)
		}
		return nil
	})
	d := countDrains(t)
	s := newSFU(t, 100*time.Millisecond)
	c := newCall(t, s, t.TempDir())
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	if n := d.get("srtp"); n < 100 {
		t.Fatalf("%d drains on an SRTP session's goroutine (%d on the track's, %d elsewhere); want every packet's", n, d.get("track"), d.get("other"))
	}
	// Each track's goroutine drained once, when its pump was attached
	// (what came before); all else came on the SRTP goroutines.
	if n := d.get("track"); n > 4 {
		t.Fatalf("%d drains on the tracks' own goroutines, want at most one a track (4)", n)
	}
	t.Logf("drains: %s", d)
	if n := goroutinesIn("sfu.(*forwarder).loop"); n != 0 {
		t.Fatalf("%d tracks read on a goroutine of their own", n)
	}
	if n := goroutinesIn("sfu.(*pump).wait"); n != 4 {
		t.Fatalf("%d tracks wait on a pump, want 4 (two peers' audio and video)", n)
	}
	c.room.Close()
	// The tracks' goroutines are gone with the room.
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		if n := goroutinesIn("sfu.(*pump).wait"); n != 0 {
			return fmt.Errorf("%d tracks still wait on a pump", n)
		}
		return nil
	})
}

// What a subscriber reached over ICE-TCP gets is forwarded on the track's
// own goroutine: a TCP write may wait (for the peer's window), and it must
// not hold up the publisher's SRTP session, its other tracks with it.
func TestTCPSubscriberIsForwardedOffTheSRTPGoroutine(t *testing.T) {
	d := countDrains(t)
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 100 * time.Millisecond, TCPAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newCall(t, s, "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	tcpOnly := sfu.Config{LoopbackOnly: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeTCP4}}
	client := c.joinWith("client:871008401427", tcpOnly, webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	// The notary's tracks (to the client, over TCP) on their goroutines,
	// the client's (to the notary, over UDP) on the client's SRTP session's.
	t.Logf("drains: %s", d)
	if n := d.get("track"); n < 60 {
		t.Fatalf("%d drains on the tracks' own goroutines, want the notary's packets'", n)
	}
	if n := d.get("srtp"); n < 60 {
		t.Fatalf("%d drains on an SRTP session's goroutine, want the client's packets'", n)
	}
	c.room.Close()
}

// The SFU's uplink loses 5% of what the publisher sends: the SFU asks for
// it again (NACK), the publisher repairs it on its RTX stream, and pion's
// repair reader hands the repairs to the track's pump, which forwards
// them: the subscriber gets packets late (repairs), none lost for good.
func TestPublisherRepairsReachTheSubscriber(t *testing.T) {
	d := countDrains(t)
	im := newImpaired(t, func(*impaired) {})
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 200 * time.Millisecond, UDPConn: im, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newCall(t, s, "")
	c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	kicks := d.get("other")
	im.set(func(im *impaired) { im.loss = 0.05 })
	v := flows(t, client, "notary:aliya", "video", 100)
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if v.Late.Load() == 0 {
			return fmt.Errorf("no video packet lost on the way in was repaired (%d lost)", v.Lost.Load())
		}
		return nil
	})
	// The repairs came through pion's RTX reader: its goroutine ran the
	// pumps when it came back for the next one.
	if n := d.get("other"); n <= kicks {
		t.Fatalf("no drain on pion's RTX reader's goroutine since the loss began (%s)", d)
	}
	c.room.Close()
}
