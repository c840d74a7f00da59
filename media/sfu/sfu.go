// Package sfu is Senim's selective forwarding unit: one Room per act's call,
// on pion/webrtc v4. Every participant has one PeerConnection with the
// server. What a participant publishes (Opus audio, VP8 video, in up to
// three simulcast layers) is forwarded to every other participant of the room and, if the room records, written
// to disk (Opus in Ogg, VP8 in IVF).
//
// Signaling is server-led: the server makes the offers (on join, when
// tracks come and go, and for an ICE restart) and participants answer. One
// exception: a participant that joins with JoinOptions.Offers makes the
// first offer, for what it sends (Room.Offer), and the room answers; that
// is how a browser sends simulcast (its own sendEncodings). The room makes
// no offer before that answer and takes no offer after it, so one side
// offers at a time and renegotiation has no glare. Candidates trickle both
// ways.
//
// Networks: ICE over UDP, and with Config.TCPAddr over TCP on one port
// too, for participants whose network blocks UDP (relays through Senim's
// TURN, over UDP, TCP or TLS, are the participants' side of it).
//
// Networks that are not fast enough (bwe.go): every subscriber's downlink
// is estimated from its transport-wide congestion control feedback (pion's
// GCC), and each subscriber gets the best simulcast layer of a camera that
// fits (downtrack.go: one continuous stream whatever the layer, switched on
// keyframes), or audio alone under a floor, until the estimate recovers.
//
// Forwarding costs no allocation per packet: each published track has one
// read buffer and one rtp.Packet, reused; a recording takes a copy into a
// ring of reused slots and is written on its own goroutine (record.go),
// through a buffer that reaches the file a few times a second. On the way
// to each subscriber the SFU's own NACK responder and transport-wide
// sequence stamping (sendpath.go) allocate nothing either (pion's
// congestion controller still records each packet), and on Linux a video
// frame's packets to one subscriber leave in one system call, segmented
// by the kernel (gso_linux.go).
//
// A Room is safe for concurrent use: pion calls back on its own goroutines,
// and the media actor that owns the room calls in from its own.
package sfu

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v4/udp"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
)

// Config is how rooms reach the network.
type Config struct {
	// UDPPortMin and UDPPortMax bound the ports of ICE host candidates; zero
	// leaves the choice to the OS.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs are announced as host candidates instead of local addresses
	// (a server behind 1:1 NAT).
	PublicIPs []string
	// LoopbackOnly gathers candidates on loopback alone (tests, and a
	// development server used from the same machine).
	LoopbackOnly bool
	// PLIInterval is the least time between two keyframe requests sent to
	// one publisher; subscribers asking more often are coalesced.
	PLIInterval time.Duration
	// ICEServers are the server's own STUN/TURN servers; usually none, the
	// server has a reachable address.
	ICEServers []webrtc.ICEServer
	// TCPAddr, if set, is where New listens for ICE over TCP (RFC 6544,
	// passive candidates): every connection may then also be reached on
	// this one TCP port, for participants whose network blocks UDP.
	// "host:0" picks a port (tests). NewAPI ignores it.
	TCPAddr string
	// UDPAddr, if set, is the one UDP socket every connection's ICE uses
	// (pion's UDP mux, instead of a port per connection). "host:0" picks a
	// port (tests). NewAPI ignores it.
	UDPAddr string
	// WriteBatch, with UDPAddr, sends up to this many packets in one
	// sendmmsg call (Linux; elsewhere one by one), each waiting at most
	// batchInterval for the others. 0 or 1 writes each packet at once.
	// Measured (BenchmarkForwarding, sfu-batch) it costs more than it
	// saves at a call's packet rates: the mux's own per-packet work and
	// allocations outweigh the fewer system calls. So the server's
	// configuration does not offer it; the benchmark keeps the experiment.
	WriteBatch int
	// NumberSent numbers every packet a connection of NewAPI sends with
	// transport-wide sequence numbers, as a browser does (the load tools'
	// publishers: the SFU then records the arrival of each and reports
	// it, as it does a browser's). The SFU's own connections always do.
	NumberSent bool
	// NoSegmentation turns off UDP segmentation offload on the SFU's
	// per-connection sockets (gso_linux.go: a video frame's packets to one
	// subscriber in one system call, on Linux): each packet is then a
	// send of its own, as before. For side-by-side measurements.
	NoSegmentation bool
	// RED, for NewAPI: the connections take RED audio too (the SFU's
	// always do).
	RED bool
	// PacketConn, if set, is the one UDP socket of NewAPI's connections
	// (a test peer behind an impaired network). New ignores it.
	PacketConn net.PacketConn
	// UDPConn, if set, is New's one UDP socket, as UDPAddr's would be, and
	// is closed with the SFU: a test's, whose network it impairs (the
	// server's side of a throttled call). NewAPI ignores it.
	UDPConn net.PacketConn
	// NetworkTypes, if set, are the only networks ICE uses: a peer whose
	// network blocks UDP is {NetworkTypeTCP4} (tests, the load tool). By
	// default UDP4 and UDP6, and TCP4 with TCPAddr.
	NetworkTypes []webrtc.NetworkType
	// BWEInitial is a subscriber's downlink estimate (bits/s) before any
	// feedback: what it may get at first. BWEMax caps the estimate.
	// Defaults 1 Mbit/s and 20 Mbit/s.
	BWEInitial, BWEMax int
	// VideoPauseBelow and VideoResumeAbove (bits/s): a subscriber whose
	// estimate falls below VideoPauseBelow gets audio alone until it is
	// back above VideoResumeAbove (hysteresis). Defaults 100 and 200 kbit/s.
	VideoPauseBelow, VideoResumeAbove int
	Logger                            zerolog.Logger
}

// SFU builds rooms that share one pion API (codecs, interceptors, network
// settings).
type SFU struct {
	api    *webrtc.API
	cfg    Config
	tcp    net.Listener // nil without ICE over TCP
	tcpMux ice.TCPMux
	udpMux ice.UDPMux // nil without UDPAddr
	udp    net.PacketConn
	// bwe holds each new connection's bandwidth estimator, by the
	// connection's id, from pion's callback until Room.Join takes it.
	bwe sync.Map
}

// nackHistory is how many packets of each stream sent are kept for repairs:
// about 3 s of the best layer, more than a repair is worth after.
const nackHistory = 512

// minBWE is the least a subscriber's estimate goes down to (bits/s): audio
// alone still fits.
const minBWE = 30_000

// takeBWE is the bandwidth estimator of a connection just made (nil for
// one without: never on the SFU's API).
func (s *SFU) takeBWE(pc *webrtc.PeerConnection) cc.BandwidthEstimator {
	if e, ok := s.bwe.LoadAndDelete(pc.ID()); ok {
		return e.(cc.BandwidthEstimator)
	}
	return nil
}

// batchInterval is the most a packet waits for its batch (WriteBatch): a
// video frame's packets come together and go out together; a lone audio
// packet goes after at most this.
const batchInterval = time.Millisecond

// MimeTypeRED is Opus with redundancy.
const MimeTypeRED = "audio/red"

// Codecs Senim forwards: what every browser sends.
var (
	VP8 = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
		PayloadType: 96,
	}
	// RTX carries VP8's repairs on a stream of their own (RFC 4588), so
	// they do not upset the receiver's count of the media stream.
	RTX = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96"},
		PayloadType:        97,
	}
	// RED carries Opus with redundancy (RFC 2198), where the browser
	// offers it: offered first, so it is preferred.
	RED = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: MimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: "111/111"},
		PayloadType:        63,
	}
	Opus = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}
)

// NewAPI is the pion API Senim's peers use, server and test peers alike:
// VP8 and Opus, the default interceptors (NACK, RTCP reports, and
// transport-wide congestion control feedback on what they receive), and
// the network settings of cfg.
func NewAPI(cfg Config) (*webrtc.API, error) {
	var mux ice.UDPMux
	if cfg.PacketConn != nil {
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelError
		mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: cfg.PacketConn, Logger: lf.NewLogger("ice-udp")})
	}
	return newAPI(cfg, nil, mux, nil)
}

// newAPI is NewAPI with the SFU's ICE-TCP and UDP muxes, if any, and, with
// onBWE, send-side bandwidth estimation: every packet sent carries a
// transport-wide sequence number, the subscriber's feedback on them feeds
// pion's Google Congestion Control, and onBWE gets each new connection's
// estimator.
func newAPI(cfg Config, tcp ice.TCPMux, udp ice.UDPMux, onBWE cc.NewPeerConnectionCallback) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(VP8, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := m.RegisterCodec(RTX, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if cfg.RED || onBWE != nil {
		if err := m.RegisterCodec(RED, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	if err := m.RegisterCodec(Opus, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := registerInterceptors(m, ir); err != nil {
		return nil, err
	}
	if onBWE != nil {
		if err := registerBWE(m, ir, cfg, onBWE); err != nil {
			return nil, err
		}
	}
	if onBWE == nil && cfg.NumberSent {
		ir.Add(twccStamperFactory{}) // the extension is registered with the feedback
	}
	se := webrtc.SettingEngine{}
	if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("sfu: udp ports: %w", err)
		}
	}
	if len(cfg.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return nil, fmt.Errorf("sfu: public ips: %w", err)
		}
	}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if onBWE != nil && udp == nil && !cfg.NoSegmentation {
		// The SFU's own sockets, a port per connection: segmenting ones.
		n, err := newGSONet()
		if err != nil {
			return nil, fmt.Errorf("sfu: network: %w", err)
		}
		if n != nil {
			se.SetNet(n)
		}
	}
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if udp != nil {
		se.SetICEUDPMux(udp)
		networks = networks[:1] // the mux's socket is IPv4
	}
	if tcp != nil {
		se.SetICETCPMux(tcp)
		networks = append(networks, webrtc.NetworkTypeTCP4)
	}
	if len(cfg.NetworkTypes) > 0 {
		networks = cfg.NetworkTypes
	}
	se.SetNetworkTypes(networks)
	if cfg.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// registerBWE adds send-side bandwidth estimation: Senim's estimator
// (estimator.go) on transport-wide feedback, fed by the transport-wide
// sequence numbers the stamper puts in every packet sent. No pacer: the
// layer choice keeps each subscriber's rate under its estimate, and pion's
// leaky-bucket pacer would copy and queue every packet on its own ticker.
func registerBWE(m *webrtc.MediaEngine, ir *interceptor.Registry, cfg Config, onBWE cc.NewPeerConnectionCallback) error {
	initial, maximum := cfg.BWEInitial, cfg.BWEMax
	return registerEstimator(m, ir, func() (cc.BandwidthEstimator, error) {
		return newEstimator(initial, minBWE, maximum), nil
	}, onBWE)
}

// registerEstimator is registerBWE with the estimators newBWE makes
// (pion's GCC, for the benchmarks beside it).
func registerEstimator(m *webrtc.MediaEngine, ir *interceptor.Registry, newBWE cc.BandwidthEstimatorFactory, onBWE cc.NewPeerConnectionCallback) error {
	bwe, err := cc.NewInterceptor(newBWE)
	if err != nil {
		return err
	}
	bwe.OnNewPeerConnection(onBWE)
	ir.Add(bwe)
	// After the estimator, so the stamper wraps it: it records each packet
	// in Senim's estimator as it numbers it, and writes past the
	// estimator's recorder; pion's GCC sees the number it puts in each
	// packet (sendpath.go: pion's ConfigureTWCCHeaderExtensionSender
	// without its allocations).
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return err
		}
	}
	ir.Add(twccStamperFactory{})
	return nil
}

// registerInterceptors registers pion's default interceptors but its
// statistics (webrtc.RegisterDefaultInterceptorsWithOptions less
// ConfigureStatsInterceptor): NACK generator and responder, RTCP sender and
// receiver reports, the simulcast header extensions, and transport-wide
// congestion control feedback on what is received (Senim's, twccfeedback.go). Nothing in Senim reads
// a connection's getStats, and pion's statistics recorder clones every RTP
// header sent and received, under a lock: garbage and work per packet per
// subscriber on the forwarding path.
func registerInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	// The NACK responder (sendpath.go, in place of pion's, which allocates
	// per packet) keeps, per stream sent, the last nackHistory packets to
	// repair from (on the RTX stream where negotiated): each subscriber's
	// buffer is bounded. pion's generator asks for what is missing of what
	// comes in.
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	ir.Add(nackResponderFactory{})
	ir.Add(generator)
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return err
	}
	return registerFeedback(m, ir) // twccfeedback.go: pion's, less a hand-off per packet
}

// New makes an SFU.
func New(cfg Config) (*SFU, error) {
	if cfg.PLIInterval <= 0 {
		cfg.PLIInterval = 500 * time.Millisecond
	}
	if cfg.BWEInitial <= 0 {
		cfg.BWEInitial = 1_000_000
	}
	if cfg.BWEMax <= 0 {
		cfg.BWEMax = 20_000_000
	}
	if cfg.VideoPauseBelow <= 0 {
		cfg.VideoPauseBelow = 100_000
	}
	if cfg.VideoResumeAbove < cfg.VideoPauseBelow {
		cfg.VideoResumeAbove = 2 * cfg.VideoPauseBelow
	}
	s := &SFU{cfg: cfg}
	if cfg.TCPAddr != "" {
		var err error
		if s.tcp, err = net.Listen("tcp4", cfg.TCPAddr); err != nil {
			return nil, fmt.Errorf("sfu: ICE over TCP: %w", err)
		}
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelError // a closing call's connections warn of being closed
		// A connection must prove itself with a STUN binding soon: until it
		// does it is nobody's, and holding it long invites idle ones.
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: s.tcp, Logger: lf.NewLogger("ice-tcp"),
			ReadBufferSize: 32, FirstStunBindTimeout: 10 * time.Second})
	}
	if cfg.UDPConn != nil {
		s.udp = cfg.UDPConn
	} else if cfg.UDPAddr != "" {
		var err error
		if s.udp, err = net.ListenPacket("udp4", cfg.UDPAddr); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("sfu: ICE over UDP: %w", err)
		}
	}
	if s.udp != nil {
		conn := s.udp
		if cfg.WriteBatch > 1 {
			conn = udp.NewBatchConn(s.udp, cfg.WriteBatch, batchInterval)
		}
		lf := logging.NewDefaultLoggerFactory()
		lf.DefaultLogLevel = logging.LogLevelError
		s.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: lf.NewLogger("ice-udp")})
	}
	var err error
	if s.api, err = newAPI(cfg, s.tcpMux, s.udpMux, func(id string, e cc.BandwidthEstimator) { s.bwe.Store(id, e) }); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// TCPAddr is where the SFU takes ICE over TCP; nil when it does not.
func (s *SFU) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// UDPAddr is the SFU's one UDP socket; nil without Config.UDPAddr.
func (s *SFU) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

// Close stops taking ICE over TCP and over the shared UDP socket, if
// any. Close the rooms first.
func (s *SFU) Close() error {
	var errs []error
	if s.tcpMux != nil {
		errs = append(errs, s.tcpMux.Close())
	} else if s.tcp != nil {
		errs = append(errs, s.tcp.Close())
	}
	if s.udpMux != nil {
		errs = append(errs, s.udpMux.Close())
	} else if s.udp != nil {
		errs = append(errs, s.udp.Close())
	}
	return errors.Join(errs...)
}

// Errors a room returns; the media actor maps them to protocol codes.
var (
	ErrClosed         = errors.New("sfu: the room is closed")
	ErrNoParticipant  = errors.New("sfu: no such participant")
	ErrBadDescription = errors.New("sfu: bad session description")
	ErrBadCandidate   = errors.New("sfu: bad ICE candidate")
)
