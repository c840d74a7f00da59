package sfu_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/media/turn"
	"github.com/senim-kz/senim/metrics"
)

const wait = 30 * time.Second

// call wires peers to a room the way the media actor and the websocket do:
// each direction in order, never calling back into the room from its sink.
type call struct {
	t     *testing.T
	room  *sfu.Room
	mu    sync.Mutex
	peers map[string]*peer.Peer
	queue map[string]chan sfu.Signal
	ctx   context.Context
	stop  context.CancelFunc
	// network lists the "network" signals each participant got.
	network map[string][]string
	opts    sfu.JoinOptions // of the next join
}

func newCall(t *testing.T, s *sfu.SFU, dir string) *call {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &call{t: t, peers: map[string]*peer.Peer{}, queue: map[string]chan sfu.Signal{}, ctx: ctx, stop: cancel, network: map[string][]string{}}
	c.room = s.NewRoom(sfu.RoomOptions{ID: "test", RecordDir: dir, Sink: func(id string, sig sfu.Signal) {
		c.mu.Lock()
		q := c.queue[id]
		c.mu.Unlock()
		if q != nil {
			q <- sig
		}
	}})
	return c
}

// join adds a publishing peer with the given ICE configuration.
func (c *call) join(id string, cfg webrtc.Configuration) *peer.Peer {
	c.t.Helper()
	return c.joinWith(id, sfu.Config{LoopbackOnly: true}, cfg)
}

// joinWith is join on a peer API with the given network settings (a
// network that blocks UDP).
func (c *call) joinWith(id string, net sfu.Config, cfg webrtc.Configuration) *peer.Peer {
	c.t.Helper()
	return c.joinPublishing(id, net, cfg, func(p *peer.Peer) error { return p.Publish(c.ctx, sfu.StreamID(id), 300_000) })
}

// joinPublishing is joinWith with what the peer publishes.
func (c *call) joinPublishing(id string, net sfu.Config, cfg webrtc.Configuration, publish func(*peer.Peer) error) *peer.Peer {
	c.t.Helper()
	api, err := sfu.NewAPI(net)
	if err != nil {
		c.t.Fatal(err)
	}
	p, err := peer.New(api, cfg, func(s peer.Signal) {
		var err error
		switch s.Kind {
		case "answer":
			err = c.room.Answer(id, s.SDP)
		case "candidate":
			err = c.room.Candidate(id, *s.Candidate)
		}
		if err != nil {
			c.t.Errorf("%s: %s: %v", id, s.Kind, err)
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
	// The call ends before the peer closes: what the room says after (the
	// others' tracks going) is not answered by a closed peer.
	c.t.Cleanup(func() { c.stop(); _ = p.Close() })
	if err := publish(p); err != nil {
		c.t.Fatal(err)
	}
	q := make(chan sfu.Signal, 256)
	c.mu.Lock()
	c.peers[id], c.queue[id] = p, q
	c.mu.Unlock()
	go func() {
		for {
			select {
			case <-c.ctx.Done():
				return
			case s := <-q:
				var err error
				switch s.Kind {
				case "offer":
					err = p.Offer(s.SDP)
				case "answer":
					err = p.Answer(s.SDP)
				case "candidate":
					err = p.Candidate(*s.Candidate)
				case "network":
					c.mu.Lock()
					c.network[id] = append(c.network[id], s.State)
					c.mu.Unlock()
				}
				if err != nil && c.ctx.Err() == nil {
					c.t.Errorf("%s: %s from the room: %v", id, s.Kind, err)
				}
			}
		}
	}()
	if err := c.room.JoinWith(id, c.opts); err != nil {
		c.t.Fatal(err)
	}
	if c.opts.Offers {
		offer, err := p.MakeOffer()
		if err != nil {
			c.t.Fatal(err)
		}
		if err := c.room.Offer(id, offer); err != nil {
			c.t.Fatal(err)
		}
	}
	return p
}

// hears waits until p receives video and audio of the participant from.
func hears(t *testing.T, p *peer.Peer, from string) {
	t.Helper()
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		v, a := p.ReceivedFrom(sfu.StreamID(from))
		if v < 30 || a < 30 {
			return fmt.Errorf("from %s: %d video, %d audio packets", from, v, a)
		}
		return nil
	})
}

func newSFU(t *testing.T, pli time.Duration) *sfu.SFU {
	t.Helper()
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: pli, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two peers publish synthetic VP8 and Opus; each receives the other's RTP
// through the SFU. The one who joins second makes the first renegotiate.
// A subscriber's PLI reaches the publisher. On close, every track is a
// finished file whose hash and duration the room reports.
func TestTwoPeersThroughTheSFU(t *testing.T) {
	dir := t.TempDir()
	metric := func(c interface{ Desc() *prometheus.Desc }) float64 {
		return testutil.ToFloat64(c.(prometheus.Collector))
	}
	rooms0, people0 := metric(metrics.MediaRooms), metric(metrics.MediaParticipants)
	nack0, pli0 := metric(metrics.MediaRTCP.WithLabelValues("nack")), metric(metrics.MediaRTCP.WithLabelValues("pli"))
	bytes0 := metric(metrics.MediaBytes.WithLabelValues("video"))
	c := newCall(t, newSFU(t, 10*time.Millisecond), dir)
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	if got := c.room.Participants(); len(got) != 2 {
		t.Fatalf("participants %v", got)
	}

	// A keyframe request from the client about the notary's camera reaches
	// the notary, as a PLI on the notary's own track.
	var ssrc webrtc.SSRC
	for _, tr := range client.PC.GetTransceivers() {
		if r := tr.Receiver(); r != nil && r.Track() != nil && r.Track().Kind() == webrtc.RTPCodecTypeVideo {
			ssrc = r.Track().SSRC()
		}
	}
	if ssrc == 0 {
		t.Fatal("the client has no video track")
	}
	before := notary.KeyframeRequests.Load()
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if err := client.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
			return err
		}
		if notary.KeyframeRequests.Load() == before {
			return fmt.Errorf("no keyframe request reached the notary")
		}
		return nil
	})

	// A NACK from the subscriber is counted per lost packet (the NACK
	// interceptor answers it from its buffer).
	if err := client.PC.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: uint32(ssrc),
		Nacks: []rtcp.NackPair{{PacketID: 1, LostPackets: 0b11}}}}); err != nil {
		t.Fatal(err)
	}
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		if n := metric(metrics.MediaRTCP.WithLabelValues("nack")) - nack0; n != 3 {
			return fmt.Errorf("%v NACKed packets counted, want 3", n)
		}
		return nil
	})
	if metric(metrics.MediaRooms)-rooms0 != 1 || metric(metrics.MediaParticipants)-people0 != 2 {
		t.Fatalf("rooms %v participants %v", metric(metrics.MediaRooms)-rooms0, metric(metrics.MediaParticipants)-people0)
	}
	if metric(metrics.MediaRTCP.WithLabelValues("pli"))-pli0 < 1 || metric(metrics.MediaBytes.WithLabelValues("video"))-bytes0 <= 0 {
		t.Fatal("PLI or forwarded bytes not counted")
	}

	recs := c.room.Close()
	if metric(metrics.MediaRooms) != rooms0 || metric(metrics.MediaParticipants) != people0 {
		t.Fatalf("after close: rooms %v participants %v", metric(metrics.MediaRooms), metric(metrics.MediaParticipants))
	}
	if len(recs) != 5 {
		t.Fatalf("%d recordings, want 4 tracks and the WebM: %+v", len(recs), recs)
	}
	kinds := map[string]int{}
	for _, r := range recs {
		if strings.Contains(r.File, "871008401427") {
			t.Errorf("recording file %s is named by the client's IIN", r.File)
		}
		if r.Codec == sfu.WebMCodec {
			continue // TestCallWebM
		}
		kinds[r.Participant+" "+r.Kind]++
		data, err := os.ReadFile(filepath.Join(dir, r.File))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != r.SHA256 || int64(len(data)) != r.Bytes {
			t.Errorf("%s: hash or size differ from the file", r.File)
		}
		magic := map[string][]byte{"audio": []byte("OggS"), "video": []byte("DKIF")}[r.Kind]
		if !bytes.HasPrefix(data, magic) {
			t.Errorf("%s: starts %q, want %q", r.File, data[:4], magic)
		}
		if r.Duration <= 0 || r.Packets < 30 {
			t.Errorf("%s: %d ms, %d packets", r.File, r.Duration, r.Packets)
		}
	}
	for _, k := range []string{"notary:aliya audio", "notary:aliya video", "client:871008401427 audio", "client:871008401427 video"} {
		if kinds[k] != 1 {
			t.Errorf("recordings by participant and kind: %v", kinds)
		}
	}
	if err := c.room.Join("late"); err != sfu.ErrClosed {
		t.Fatalf("join a closed room: %v", err)
	}
}

// However often subscribers ask, the publisher gets at most one keyframe
// request per interval; the rest are counted as coalesced.
func TestKeyframeRequestsAreThrottled(t *testing.T) {
	c := newCall(t, newSFU(t, time.Hour), "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	var ssrc webrtc.SSRC
	for _, tr := range client.PC.GetTransceivers() {
		if r := tr.Receiver(); r != nil && r.Track() != nil && r.Track().Kind() == webrtc.RTPCodecTypeVideo {
			ssrc = r.Track().SSRC()
		}
	}
	sent := testutil.ToFloat64(metrics.MediaKeyframeRequests.WithLabelValues("sent"))
	coalesced := testutil.ToFloat64(metrics.MediaKeyframeRequests.WithLabelValues("coalesced"))
	for i := 0; i < 20; i++ {
		if err := client.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err != nil {
			t.Fatal(err)
		}
	}
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		if n := testutil.ToFloat64(metrics.MediaKeyframeRequests.WithLabelValues("coalesced")) - coalesced; n < 20 {
			return fmt.Errorf("%v coalesced", n)
		}
		return nil
	})
	if n := testutil.ToFloat64(metrics.MediaKeyframeRequests.WithLabelValues("sent")) - sent; n != 0 {
		t.Fatalf("%v keyframe requests sent within the interval", n)
	}
	_ = notary
	c.room.Close()
}

// A peer that may only use relays (ICE policy relay) holds the call through
// Senim's TURN server.
func TestRelayOnlyThroughTURN(t *testing.T) {
	srv, err := turn.Start(turn.Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: "s3cret", AllowLoopback: true}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	callThroughRelay(t, fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", srv.Port()))
}

// When a participant leaves, the others are renegotiated without their
// tracks; when someone joins again, with the new ones.
func TestLeaveAndRejoinRenegotiate(t *testing.T) {
	c := newCall(t, newSFU(t, 100*time.Millisecond), "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	first := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, notary, "client:871008401427")
	if err := c.room.Leave("client:871008401427"); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	// The notary's connection drops the client's tracks: its senders for
	// them are gone, so the notary's receivers for them stop.
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		live := 0
		for _, tr := range notary.PC.GetTransceivers() {
			if tr.Direction() == webrtc.RTPTransceiverDirectionRecvonly || tr.Direction() == webrtc.RTPTransceiverDirectionSendrecv {
				if tr.Receiver() != nil && tr.Receiver().Track() != nil && tr.Receiver().Track().StreamID() == sfu.StreamID("client:871008401427") {
					live++
				}
			}
		}
		if live != 0 {
			return fmt.Errorf("the notary still receives %d of the client's tracks", live)
		}
		return nil
	})
	if got := c.room.Participants(); len(got) != 1 || got[0] != "notary:aliya" {
		t.Fatalf("participants %v", got)
	}
	if err := c.room.Answer("client:871008401427", "v=0"); err != sfu.ErrNoParticipant {
		t.Fatalf("a signal from who left: %v", err)
	}
	// Joining again is a new connection; the notary gets its tracks.
	c.mu.Lock()
	delete(c.peers, "client:871008401427")
	delete(c.queue, "client:871008401427")
	c.mu.Unlock()
	second := c.join("client:871008401427", webrtc.Configuration{})
	before, _ := notary.ReceivedFrom(sfu.StreamID("client:871008401427"))
	testtool.Eventually(t, wait, 20*time.Millisecond, func() error {
		if v, _ := notary.ReceivedFrom(sfu.StreamID("client:871008401427")); v < before+30 {
			return fmt.Errorf("after the rejoin the notary got %d video packets, had %d", v, before)
		}
		return nil
	})
	hears(t, second, "notary:aliya")
	c.room.Close()
}

// selectedPair is the candidate pair p's connection uses.
func selectedPair(t *testing.T, p *peer.Peer) *webrtc.ICECandidatePair {
	t.Helper()
	pair, err := p.PC.GetTransceivers()[0].Sender().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair: %v %v", pair, err)
	}
	return pair
}

// A participant whose network blocks UDP (it has TCP alone) still calls:
// the SFU offers ICE over TCP on its one port, and media flows both ways.
// Without the SFU's TCP port the same peer never connects.
func TestUDPBlockedPeerCallsOverICETCP(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 100 * time.Millisecond, TCPAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.TCPAddr() == nil {
		t.Fatal("no ICE-TCP listener")
	}
	c := newCall(t, s, "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	tcpOnly := sfu.Config{LoopbackOnly: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeTCP4}}
	client := c.joinWith("client:871008401427", tcpOnly, webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	pair := selectedPair(t, client)
	if pair.Local.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Port != uint16(s.TCPAddr().(*net.TCPAddr).Port) {
		t.Fatalf("the client's pair is %s, want TCP to the SFU's port %s", pair, s.TCPAddr())
	}
	c.room.Close()
}

// A participant that may use relays alone, and whose only TURN server is
// turns: (so its one connection out is TLS over TCP, as behind a firewall
// that lets only HTTPS out), holds the call through Senim's TURN over TLS,
// trusting the server's certificate. (Its candidates are UDP: a relay's
// far side is UDP, from the TURN server to the SFU. pion's
// SettingEngine has no switch for the client-to-TURN transport alone.)
func TestRelayOnlyOverTURNS(t *testing.T) {
	// The certificate and the roots that trust it are TestMain's.
	pair, err := tls.LoadX509KeyPair(turnsCert, turnsKey)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := turn.Start(turn.Config{Addr: "127.0.0.1:0", RelayIP: "127.0.0.1", Realm: "senim", Secret: "s3cret", AllowLoopback: true,
		TLSAddr: "127.0.0.1:0", TLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	callThroughRelay(t, fmt.Sprintf("turns:127.0.0.1:%d?transport=tcp", srv.TLSPort()))
}

// With one UDP socket for every connection and batched writes (sendmmsg),
// a call flows both ways, through that port alone.
func TestOneUDPPortWithBatchedWrites(t *testing.T) {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 100 * time.Millisecond, UDPAddr: "127.0.0.1:0", WriteBatch: 16, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newCall(t, s, "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	port := uint16(s.UDPAddr().(*net.UDPAddr).Port)
	for _, p := range []*peer.Peer{notary, client} {
		if pair := selectedPair(t, p); pair.Remote.Protocol != webrtc.ICEProtocolUDP || pair.Remote.Port != port {
			t.Fatalf("pair %s, want UDP to the SFU's port %d", pair, port)
		}
	}
	c.room.Close()
}

// inNetns marks the run of TestCallWhenAPacketFilterDropsUDP inside its
// own network namespace.
const inNetns = "SENIM_TEST_IN_NETNS"

// In a network namespace of its own, with a packet filter (nftables) that
// drops every UDP packet, a call still flows: both ends offer UDP and TCP,
// the UDP checks die in the filter, and ICE settles on the SFU's TCP
// port. Optional: it needs root, unshare and nft (apt-get install
// nftables); without them it skips.
func TestCallWhenAPacketFilterDropsUDP(t *testing.T) {
	if os.Getenv(inNetns) == "" {
		unshare, err1 := exec.LookPath("unshare")
		nft, err2 := exec.LookPath("nft")
		if err1 != nil || err2 != nil || os.Geteuid() != 0 {
			t.Skip("needs root, unshare and nft (apt-get install nftables)")
		}
		rules := "table inet senim {\n chain out {\n  type filter hook output priority 0; policy accept;\n  meta l4proto udp drop\n }\n}"
		script := `ip link set lo up && printf '%s\n' "$1" | "$2" -f - && exec "$3" -test.run '^TestCallWhenAPacketFilterDropsUDP$' -test.count 1 -test.v`
		cmd := exec.Command(unshare, "-n", "sh", "-c", script, "sh", rules, nft, os.Args[0])
		cmd.Env = append(os.Environ(), inNetns+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil && bytes.Contains(out, []byte("Operation not permitted")) {
			t.Skipf("no network namespace here: %s", out)
		}
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestCallWhenAPacketFilterDropsUDP")) {
			t.Fatalf("in the namespace: %v\n%s", err, out)
		}
		return
	}

	// The filter holds: a datagram to a socket of our own never arrives.
	rx, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.Dial("udp4", rx.LocalAddr().String())
	if err == nil {
		_, _ = tx.Write([]byte("x"))
		tx.Close()
	}
	_ = rx.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, _, err := rx.ReadFrom(make([]byte, 8)); err == nil {
		t.Fatal("a UDP datagram went through the filter")
	}

	s, err := sfu.New(sfu.Config{LoopbackOnly: true, PLIInterval: 100 * time.Millisecond, TCPAddr: "127.0.0.1:0", Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newCall(t, s, "")
	both := sfu.Config{LoopbackOnly: true, NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4}}
	notary := c.joinWith("notary:aliya", both, webrtc.Configuration{})
	client := c.joinWith("client:871008401427", both, webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	for _, p := range []*peer.Peer{notary, client} {
		if pair := selectedPair(t, p); pair.Local.Protocol != webrtc.ICEProtocolTCP {
			t.Fatalf("pair %s, want TCP", pair)
		}
	}
	c.room.Close()
}

// callThroughRelay holds a call in which the client may use relays only,
// through the TURN server at url (secret "s3cret"), and asserts that media
// flows both ways and that the client's selected candidate is a relay.
func callThroughRelay(t *testing.T, url string) {
	t.Helper()
	user, pass := turn.Credentials("s3cret", "client:871008401427", time.Now(), time.Hour)
	relay := webrtc.Configuration{
		ICETransportPolicy: webrtc.ICETransportPolicyRelay,
		ICEServers:         []webrtc.ICEServer{{URLs: []string{url}, Username: user, Credential: pass}},
	}
	c := newCall(t, newSFU(t, 100*time.Millisecond), "")
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", relay)
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	if p := selectedPair(t, client); p.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("the client's candidate is %s, want relay", p.Local.Typ)
	}
	c.room.Close()
}
