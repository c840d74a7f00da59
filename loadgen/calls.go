package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
)

// CallsOptions configure a run of the calls scenario: Rooms acts brought
// to their call over the protocol, each call carrying synthetic media,
// measured over a window once it flows.
type CallsOptions struct {
	// Addr and DataDir are as in Options.
	Addr, DataDir string
	// Rooms is how many calls run at once.
	Rooms int
	// Subscribers per publisher. An act's call carries two participants,
	// the principal and the notary, so 1 is all the product allows: a
	// larger fan-out is refused (bad_options) rather than faked.
	Subscribers int
	// Duplex has both participants publish, as people in a real call do;
	// without it the principal publishes and the notary only receives (the
	// 1→1 of a benchmark).
	Duplex bool
	// Bitrate is the synthetic camera's bit rate: VP8 at 30 frames/s, each
	// frame about Bitrate/240 bytes, so 1.86 Mbit/s is 7 packets a frame,
	// 210 packets/s. Opus (20 ms, 50 packets/s) goes along.
	Bitrate int
	// Warmup is how long media flows before the window opens; Window is
	// how long it is measured.
	Warmup, Window time.Duration
	// ServerPID, if set, is the server's process: its CPU time is read
	// from /proc/<pid>/stat. Without it the server's own
	// process_cpu_seconds_total at /metrics is read.
	ServerPID int
	// Setup is how many rooms are brought to their call at once.
	Setup int
	// StepTimeout bounds each step of the setup, and the wait for media.
	StepTimeout time.Duration
	// Progress, if set, gets a line per phase.
	Progress io.Writer
}

// DefaultCallsOptions are the command's defaults: the load of issue 14.
func DefaultCallsOptions() CallsOptions {
	return CallsOptions{Rooms: 10, Subscribers: 1, Bitrate: 1_860_000, Warmup: 5 * time.Second, Window: 20 * time.Second,
		Setup: 4, StepTimeout: 30 * time.Second}
}

// FanOutNote says why the calls scenario measures rooms of 1→1 only.
const FanOutNote = "an act's call carries two participants (the principal and the notary): fan-out beyond 1→1 is not possible; measured as rooms of 1→1 (bench/fanout measures the SFU at 1→k)"

func (o CallsOptions) validate() error {
	switch {
	case o.Addr == "":
		return fatal(CodeBadOptions, "--addr is required")
	case o.DataDir == "":
		return fatal(CodeBadOptions, "--data (the server's data_dir) is required")
	case o.Rooms < 1 || o.Rooms > 1000:
		return fatal(CodeBadOptions, "--rooms must be 1-1000")
	case o.Subscribers != 1:
		return fatal(CodeBadOptions, "--subscribers must be 1: %s", FanOutNote)
	case o.Bitrate < 10_000 || o.Bitrate > 20_000_000:
		return fatal(CodeBadOptions, "--bitrate must be 10000-20000000")
	case o.Warmup < 0 || o.Window <= 0 || o.Window > time.Hour:
		return fatal(CodeBadOptions, "--warmup must not be negative, --window between 0 and 1h")
	case o.ServerPID < 0:
		return fatal(CodeBadOptions, "--server-pid must be a process id")
	case o.Setup < 1 || o.Setup > 100:
		return fatal(CodeBadOptions, "--setup must be 1-100")
	case o.StepTimeout <= 0:
		return fatal(CodeBadOptions, "--step-timeout must be positive")
	}
	return nil
}

// CallsReport is what a calls run measured, over the window. The JSON
// names are what scripts read; bench/livekit writes the same ones.
type CallsReport struct {
	Scenario    string  `json:"scenario"` // calls
	Server      string  `json:"server"`   // senim (bench/livekit: livekit)
	Addr        string  `json:"addr"`
	Rooms       int     `json:"rooms"`
	Subscribers int     `json:"subscribers"` // per publisher
	Duplex      bool    `json:"duplex"`
	Bitrate     int     `json:"bitrate"`
	Note        string  `json:"note,omitempty"`
	Warmup      float64 `json:"warmup_seconds"`
	Seconds     float64 `json:"seconds"` // the measured window

	// VideoStreams and AudioStreams are the streams forwarded: one per
	// subscriber and publisher that received packets in the window.
	VideoStreams int `json:"video_streams"`
	AudioStreams int `json:"audio_streams"`
	// VideoPackets and AudioPackets are what the subscribers received in
	// the window; Lost what went missing from the sequences.
	VideoPackets int64 `json:"video_packets"`
	AudioPackets int64 `json:"audio_packets"`
	Lost         int64 `json:"lost_packets"`
	// LossRatio is Lost over the packets sent (received and lost).
	LossRatio float64 `json:"loss_ratio"`
	// VideoPacketsPerSecond is per forwarded video stream (each subscriber
	// of each publisher): min, mean and max.
	VideoPPSMin  float64 `json:"video_pps_min"`
	VideoPPSMean float64 `json:"video_pps_mean"`
	VideoPPSMax  float64 `json:"video_pps_max"`

	// ServerCPUSeconds is the server process's CPU time (user and system)
	// in the window; CPUSource says where it was read (proc or metrics).
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	CPUSource        string  `json:"cpu_source"`
	// ServerCores is the server's mean CPU use in cores.
	ServerCores float64 `json:"server_cores"`
	// CPUPerStream is the server's CPU per forwarded video stream (with
	// its audio), in core-milliseconds per second (1000 = a whole core).
	CPUPerStream float64 `json:"cpu_ms_per_stream_second"`
	// CPUPerPacket is the server's CPU per forwarded packet, video and
	// audio, in microseconds; CPUPerVideoPacket counts video packets only.
	CPUPerPacket      float64 `json:"cpu_us_per_packet"`
	CPUPerVideoPacket float64 `json:"cpu_us_per_video_packet"`
	ToolCPUSeconds    float64 `json:"tool_cpu_seconds"`
}

// WriteTable prints the report for people.
func (r *CallsReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rows := [][2]string{
		{"server", r.Server + " at " + r.Addr},
		{"rooms", fmt.Sprintf("%d (1→%d, duplex %v)", r.Rooms, r.Subscribers, r.Duplex)},
		{"video", fmt.Sprintf("%.2f Mbit/s VP8 + Opus", float64(r.Bitrate)/1e6)},
		{"window", fmt.Sprintf("%.1f s after %.1f s of warm-up", r.Seconds, r.Warmup)},
		{"streams forwarded", fmt.Sprintf("%d video, %d audio", r.VideoStreams, r.AudioStreams)},
		{"packets received", fmt.Sprintf("%d video, %d audio", r.VideoPackets, r.AudioPackets)},
		{"video packets/s per stream", fmt.Sprintf("min %.1f mean %.1f max %.1f", r.VideoPPSMin, r.VideoPPSMean, r.VideoPPSMax)},
		{"lost", fmt.Sprintf("%d (%.4f%%)", r.Lost, 100*r.LossRatio)},
		{"server CPU", fmt.Sprintf("%.2f s (%.3f cores, from %s)", r.ServerCPUSeconds, r.ServerCores, r.CPUSource)},
		{"server CPU per stream", fmt.Sprintf("%.2f core-ms/s", r.CPUPerStream)},
		{"server CPU per packet", fmt.Sprintf("%.2f µs (%.2f µs per video packet)", r.CPUPerPacket, r.CPUPerVideoPacket)},
		{"tool CPU", fmt.Sprintf("%.2f s", r.ToolCPUSeconds)},
	}
	if r.Note != "" {
		rows = append(rows, [2]string{"note", r.Note})
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

// WriteJSON writes the report as JSON to path.
func (r *CallsReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// callSide is one participant's connection to a room.
type callSide struct {
	c      *client.Client
	p      *peer.Peer
	errs   chan error
	cancel context.CancelFunc
}

// callRoom is one act whose call the run holds.
type callRoom struct {
	act        string
	cl         *client.Client // the principal's session
	notary     *notarySession
	pub, sub   *callSide // the principal's and the notary's side
	subs, pubs []*callSide
}

// RunCalls runs the calls scenario against the server at opts.Addr. A
// *FatalError means no load was applied.
func RunCalls(ctx context.Context, opts CallsOptions) (*CallsReport, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	raiseNoFile()
	g := &generator{opts: Options{Addr: opts.Addr, DataDir: opts.DataDir, StepTimeout: opts.StepTimeout},
		wsURL: "ws://" + opts.Addr + "/ws", desk: newDesk(),
		hc: &http.Client{Timeout: opts.StepTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	cpu, source, err := serverCPUReader(ctx, g.hc, opts)
	if err != nil {
		return nil, err
	}
	if _, err := cpu(); err != nil {
		return nil, fatal(CodeUnreachable, "the server's CPU time: %v", err)
	}
	now := time.Now()
	ca, err := openCA(opts.DataDir, now)
	if err != nil {
		return nil, err
	}
	// Each room: a principal and an attorney of its own, and a notary.
	if g.citizens, err = issue(ca, opts.DataDir, iins(0, 2*opts.Rooms), true, now); err != nil {
		return nil, err
	}
	notaryPeople, err := issue(ca, opts.DataDir, iins(5_000_000, opts.Rooms), false, now)
	if err != nil {
		return nil, err
	}
	accts, err := addNotaries(opts.DataDir, notaryPeople, now)
	if err != nil {
		return nil, err
	}
	pumps, cancelPumps := context.WithCancel(context.Background())
	defer cancelPumps()
	defer g.closeNotaries()
	for _, a := range accts {
		n, err := g.notaryIn(ctx, a)
		if err != nil {
			return nil, err
		}
		g.notaries = append(g.notaries, n)
		go g.desk.pump(pumps, n)
	}
	progress := func(format string, args ...any) {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "calls: "+format+"\n", args...)
		}
	}

	// Bring the rooms to their calls, Setup at a time.
	media, stopMedia := context.WithCancel(context.Background())
	defer stopMedia()
	rooms := make([]*callRoom, opts.Rooms)
	errs := make([]error, opts.Rooms)
	sem := make(chan struct{}, opts.Setup)
	var wg sync.WaitGroup
	for i := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rooms[i], errs[i] = g.openRoom(ctx, media, opts, g.citizens[2*i], g.citizens[2*i+1])
		}()
	}
	wg.Wait()
	defer func() {
		for _, r := range rooms {
			if r != nil {
				r.close()
			}
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("loadgen: bringing the rooms to their calls: %w", err)
	}
	progress("%d rooms in their calls; waiting for media", len(rooms))

	// Every subscriber receiving video and audio, then the warm-up.
	deadline := time.Now().Add(opts.StepTimeout)
	for !allFlowing(rooms) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("loadgen: media did not reach every subscriber within %s", opts.StepTimeout)
		}
		if err := SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
		for _, r := range rooms {
			for _, s := range append(r.pubs, r.subs...) {
				select {
				case err := <-s.errs:
					return nil, fmt.Errorf("loadgen: a call's signaling: %w", err)
				default:
				}
			}
		}
	}
	w, err := MeasureCalls(ctx, opts.Warmup, opts.Window, func() map[string]StreamCount { return sampleRooms(rooms) }, cpu, progress)
	if err != nil {
		return nil, err
	}
	rep := &CallsReport{Scenario: "calls", Server: "senim", Addr: opts.Addr, Rooms: opts.Rooms, Subscribers: opts.Subscribers,
		Duplex: opts.Duplex, Bitrate: opts.Bitrate, Note: FanOutNote, Warmup: opts.Warmup.Seconds(), Seconds: w.Seconds,
		ServerCPUSeconds: w.ServerCPU, CPUSource: source, ToolCPUSeconds: w.ToolCPU}
	FillCalls(rep, w.Before, w.After)
	return rep, nil
}

// StreamCount is what one subscriber received of one publisher: a sample
// of its counters. bench/livekit samples its own peers the same way.
type StreamCount struct {
	Video, Audio, Lost int64
}

// FillCalls computes a report's stream, packet, loss and CPU figures from
// samples taken at both ends of the window (same keys, one per forwarded
// stream), and its ServerCPUSeconds and Seconds.
func FillCalls(rep *CallsReport, before, after map[string]StreamCount) {
	first := true
	for k, a := range after {
		b := before[k]
		v, au, lost := a.Video-b.Video, a.Audio-b.Audio, a.Lost-b.Lost
		if v > 0 {
			rep.VideoStreams++
			pps := float64(v) / rep.Seconds
			if first || pps < rep.VideoPPSMin {
				rep.VideoPPSMin = pps
			}
			rep.VideoPPSMax = max(rep.VideoPPSMax, pps)
			first = false
		}
		if au > 0 {
			rep.AudioStreams++
		}
		rep.VideoPackets += v
		rep.AudioPackets += au
		rep.Lost += lost
	}
	packets := rep.VideoPackets + rep.AudioPackets
	if packets+rep.Lost > 0 {
		rep.LossRatio = float64(rep.Lost) / float64(packets+rep.Lost)
	}
	if rep.VideoStreams > 0 {
		rep.VideoPPSMean = float64(rep.VideoPackets) / rep.Seconds / float64(rep.VideoStreams)
		rep.CPUPerStream = 1000 * rep.ServerCPUSeconds / rep.Seconds / float64(rep.VideoStreams)
	}
	rep.ServerCores = rep.ServerCPUSeconds / rep.Seconds
	if packets > 0 {
		rep.CPUPerPacket = 1e6 * rep.ServerCPUSeconds / float64(packets)
	}
	if rep.VideoPackets > 0 {
		rep.CPUPerVideoPacket = 1e6 * rep.ServerCPUSeconds / float64(rep.VideoPackets)
	}
}

// openRoom takes one act from the principal's sign-in to its call, as
// PROTOCOL.md describes it (as the acts scenario does), then joins both
// participants to the call with Go WebRTC peers.
func (g *generator) openRoom(ctx context.Context, media context.Context, opts CallsOptions, principal, attorney person) (*callRoom, error) {
	sctx, cancel := context.WithTimeout(ctx, 4*opts.StepTimeout)
	defer cancel()
	r := &callRoom{}
	var err error
	if r.cl, err = g.signInRetrying(sctx, "client", principal); err != nil {
		return nil, fmt.Errorf("sign-in: %w", err)
	}
	cev := r.cl.Events()
	fail := func(step string, err error) (*callRoom, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	if r.act, err = r.cl.Apply(sctx, principal.Keys, "+7 701 234 56 78", attorney.IIN); err != nil {
		return fail("submit", err)
	}
	if err := r.cl.Subscribe(sctx, r.act, 0); err != nil {
		return fail("subscribe", err)
	}
	at, err := g.signInRetrying(sctx, "attorney", attorney)
	if err != nil {
		return fail("attorney sign-in", err)
	}
	cms, err := at.SignStep(sctx, attorney.Keys, r.act, "consent", 0)
	if err == nil {
		_, err = at.Command(sctx, r.act, "give_consent", map[string]any{"cms": cms})
	}
	at.CloseNow()
	if err == nil {
		err = await(sctx, cev, "consent_given", 1)
	}
	if err != nil {
		return fail("consent", err)
	}
	offers, _ := g.desk.expect(r.act)
	if _, err := r.cl.Command(sctx, r.act, "request_call", nil); err != nil {
		return fail("request_call", err)
	}
	select {
	case r.notary = <-offers:
	case <-sctx.Done():
		return fail("call offer", sctx.Err())
	}
	ack, err := r.notary.command(sctx, r.act, "accept_call", nil)
	if err == nil {
		err = r.notary.subscribe(sctx, r.act, ack.Seq)
	}
	if err == nil {
		err = await(sctx, cev, "call_accepted", 1)
	}
	if err != nil {
		return fail("accept_call", err)
	}
	if r.pub, err = joinCall(sctx, media, r.cl, r.act, true, opts.Bitrate); err != nil {
		return fail("principal's join", err)
	}
	if err := r.notary.pace(sctx, 4); err != nil {
		return fail("notary's join", err)
	}
	if r.sub, err = joinCall(sctx, media, r.notary.c, r.act, opts.Duplex, opts.Bitrate); err != nil {
		return fail("notary's join", err)
	}
	r.pubs, r.subs = []*callSide{r.pub}, []*callSide{r.sub}
	if opts.Duplex {
		r.pubs, r.subs = []*callSide{r.pub, r.sub}, []*callSide{r.sub, r.pub}
	}
	return r, nil
}

// joinCall joins c's participant to the act's call: a Go WebRTC peer,
// publishing synthetic VP8 and Opus at bitrate if publish, answering the
// server's offers that come on c's media messages until media ends.
func joinCall(ctx, media context.Context, c *client.Client, act string, publish bool, bitrate int) (*callSide, error) {
	api, err := sfu.NewAPI(sfu.Config{LoopbackOnly: true})
	if err != nil {
		return nil, err
	}
	joined, err := c.JoinCall(ctx, act, false)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(media)
	s := &callSide{c: c, errs: make(chan error, 16), cancel: cancel}
	report := func(err error) {
		select {
		case s.errs <- err:
		default:
		}
	}
	ice := webrtc.Configuration{ICEServers: client.WebRTCServers(joined.ICEServers)}
	s.p, err = peer.New(api, ice, func(sig peer.Signal) {
		m := protocol.Media{Kind: sig.Kind, SDP: sig.SDP}
		if sig.Candidate != nil {
			m.Candidate = &protocol.ICECandidate{Candidate: sig.Candidate.Candidate, SDPMid: sig.Candidate.SDPMid,
				SDPMLineIndex: sig.Candidate.SDPMLineIndex, UsernameFragment: sig.Candidate.UsernameFragment}
		}
		if err := c.Signal(mctx, act, m); err != nil && mctx.Err() == nil {
			report(err)
		}
	})
	if err != nil {
		cancel()
		return nil, err
	}
	if publish {
		if err := s.p.Publish(mctx, "camera", bitrate); err != nil {
			s.close()
			return nil, err
		}
	}
	go s.pump(mctx, act, report)
	return s, nil
}

// pump applies the server's media messages of act to the peer.
func (s *callSide) pump(ctx context.Context, act string, report func(error)) {
	client.PumpMedia(ctx, s.c.Media(), act, s.p, report)
}

func (s *callSide) close() {
	if s == nil {
		return
	}
	s.cancel()
	if s.p != nil {
		_ = s.p.Close()
	}
}

// close hangs up and ends the act (the client cancels it), so that
// nothing of the run lingers on the server.
func (r *callRoom) close() {
	r.pub.close()
	r.sub.close()
	if r.act != "" && r.cl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = r.cl.Command(ctx, r.act, "cancel_act", map[string]any{"reason": "load tool: calls run over"})
		cancel()
	}
	if r.cl != nil {
		r.cl.CloseNow()
	}
}

// Counts is what a subscriber received so far (of its one publisher), by
// codec; bench/fanout samples its peers with it too.
func Counts(p *peer.Peer) StreamCount {
	var c StreamCount
	for _, r := range p.Received() {
		if strings.EqualFold(r.Codec, webrtc.MimeTypeOpus) {
			c.Audio += r.Packets.Load()
		} else {
			c.Video += r.Packets.Load()
		}
		c.Lost += r.Lost.Load()
	}
	return c
}

// sampleRooms samples every subscriber; each receives from one publisher.
func sampleRooms(rooms []*callRoom) map[string]StreamCount {
	out := map[string]StreamCount{}
	for i, r := range rooms {
		for j, s := range r.subs {
			out[strconv.Itoa(i)+"/"+strconv.Itoa(j)] = Counts(s.p)
		}
	}
	return out
}

// allFlowing: every subscriber has received video and audio.
func allFlowing(rooms []*callRoom) bool {
	for _, r := range rooms {
		for _, s := range r.subs {
			if c := Counts(s.p); c.Video == 0 || c.Audio == 0 {
				return false
			}
		}
	}
	return true
}

func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serverCPUReader returns what reads the server's CPU time in seconds:
// /proc/<pid>/stat with opts.ServerPID, else the server's /metrics.
func serverCPUReader(ctx context.Context, hc *http.Client, opts CallsOptions) (func() (float64, error), string, error) {
	if opts.ServerPID > 0 {
		return func() (float64, error) { return ProcCPU(opts.ServerPID) }, "proc", nil
	}
	if _, err := scrape(ctx, hc, opts.Addr); err != nil {
		return nil, "", fatal(CodeUnreachable, "%s: %v", opts.Addr, err)
	}
	return func() (float64, error) {
		s, err := scrape(ctx, hc, opts.Addr)
		if err != nil {
			return 0, err
		}
		if _, ok := s.Series["process_cpu_seconds_total"]; !ok {
			return 0, errors.New("/metrics has no process_cpu_seconds_total: give --server-pid")
		}
		return s.CPUSeconds, nil
	}, "metrics", nil
}

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100
// on every architecture Go supports.
const clockTicks = 100

// ProcCPU is a process's CPU time, user and system, in seconds, from
// /proc/<pid>/stat (Linux).
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing one. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return float64(ut+st) / clockTicks, nil
}

// CallsWindow is a measured window of a calls load: the subscribers'
// counters at its ends, its length, and the server's and the tool's CPU
// over it (seconds).
type CallsWindow struct {
	Before, After               map[string]StreamCount
	Seconds, ServerCPU, ToolCPU float64
}

// MeasureCalls waits out warmup, then measures a window of window: sample
// gives the subscribers' counters, serverCPU the server's CPU seconds so
// far. bench/fanout measures its rooms the same way.
func MeasureCalls(ctx context.Context, warmup, window time.Duration, sample func() map[string]StreamCount,
	serverCPU func() (float64, error), progress func(format string, args ...any)) (CallsWindow, error) {
	var w CallsWindow
	progress("media flows; warm-up %s", warmup)
	if err := SleepCtx(ctx, warmup); err != nil {
		return w, err
	}
	progress("measuring %s", window)
	w.Before = sample()
	cpu0, err := serverCPU()
	if err != nil {
		return w, err
	}
	tool0 := ProcessCPU()
	t0 := time.Now()
	if err := SleepCtx(ctx, window); err != nil {
		return w, err
	}
	cpu1, err := serverCPU()
	if err != nil {
		return w, err
	}
	w.Seconds = time.Since(t0).Seconds()
	w.After = sample()
	w.ServerCPU, w.ToolCPU = cpu1-cpu0, ProcessCPU()-tool0
	return w, nil
}
