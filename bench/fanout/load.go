package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/loadgen"
	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
)

// loadOptions are a load run's: Rooms rooms, each one publisher and
// Subscribers subscribers, on the harness's server at Addr.
type loadOptions struct {
	Addr               string
	Rooms, Subscribers int
	Bitrate            int
	Numbered           bool // the publisher numbers its packets transport-wide, as a browser does
	Warmup, Window     time.Duration
	ServerPID          int
	Setup              int
	StepTimeout        time.Duration
	Progress           io.Writer
	serverCPU          func() (float64, error) // tests: instead of ServerPID
}

func (o loadOptions) validate() error {
	switch {
	case o.Addr == "":
		return errors.New("--addr is required")
	case o.Rooms < 1 || o.Rooms > maxRooms:
		return fmt.Errorf("--rooms must be 1-%d", maxRooms)
	case o.Subscribers < 1 || o.Subscribers >= maxParticipants:
		return fmt.Errorf("--subscribers must be 1-%d", maxParticipants-1)
	case o.Bitrate < 10_000 || o.Bitrate > 20_000_000:
		return errors.New("--bitrate must be 10000-20000000")
	case o.Warmup < 0 || o.Window <= 0 || o.Window > time.Hour:
		return errors.New("--warmup must not be negative, --window between 0 and 1h")
	case o.ServerPID <= 0 && o.serverCPU == nil:
		return errors.New("--server-pid is required: the server's CPU time is read from /proc/PID/stat")
	case o.Setup < 1 || o.Setup > 100:
		return errors.New("--setup must be 1-100")
	case o.StepTimeout <= 0:
		return errors.New("--step-timeout must be positive")
	}
	return nil
}

// participant is one Go WebRTC peer and its signaling connection.
type participant struct {
	p    *peer.Peer
	c    net.Conn
	wmu  sync.Mutex
	errs chan error
}

func (pt *participant) report(err error) {
	select {
	case pt.errs <- err:
	default:
	}
}

// send writes one line to the server.
func (pt *participant) send(m message) {
	b, _ := json.Marshal(m)
	pt.wmu.Lock()
	defer pt.wmu.Unlock()
	_ = pt.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := pt.c.Write(append(b, '\n')); err != nil {
		pt.report(err)
	}
}

func (pt *participant) close() {
	if pt == nil {
		return
	}
	_ = pt.c.Close()
	_ = pt.p.Close()
}

// connect joins room as id: a peer on sfu.NewAPI (as `senim load calls`'s),
// publishing synthetic VP8 and Opus at bitrate if publish, answering the
// room's offers until the connection ends.
func connect(ctx context.Context, addr, room, id string, publish bool, bitrate int, numbered bool) (*participant, error) {
	api, err := sfu.NewAPI(sfu.Config{LoopbackOnly: true, NumberSent: numbered && publish})
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	pt := &participant{c: nc, errs: make(chan error, 16)}
	pt.p, err = peer.New(api, webrtc.Configuration{}, func(s peer.Signal) {
		pt.send(message{Kind: s.Kind, SDP: s.SDP, Candidate: s.Candidate})
	})
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	if publish {
		if err := pt.p.Publish(ctx, "pub-"+room, bitrate); err != nil {
			pt.close()
			return nil, err
		}
	}
	b, _ := json.Marshal(hello{Room: room, ID: id})
	if _, err := nc.Write(append(b, '\n')); err != nil {
		pt.close()
		return nil, err
	}
	go pt.pump()
	return pt, nil
}

// pump applies the room's signals to the peer.
func (pt *participant) pump() {
	sc := bufio.NewScanner(pt.c)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			pt.report(err)
			continue
		}
		var err error
		switch {
		case m.Code != "":
			err = fmt.Errorf("%s: %s", m.Code, m.Message)
		case m.Kind == "offer":
			err = pt.p.Offer(m.SDP)
		case m.Kind == "candidate" && m.Candidate != nil:
			err = pt.p.Candidate(*m.Candidate)
		}
		if err != nil {
			pt.report(fmt.Errorf("%s: %w", m.Kind, err))
		}
	}
}

type loadRun struct {
	mu   sync.Mutex
	all  []*participant
	subs map[string]*participant // "room/subscriber"
}

func (l *loadRun) add(key string, pt *participant) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, pt)
	if key != "" {
		l.subs[key] = pt
	}
}

func (l *loadRun) sample() map[string]loadgen.StreamCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]loadgen.StreamCount, len(l.subs))
	for k, pt := range l.subs {
		out[k] = loadgen.Counts(pt.p)
	}
	return out
}

// failed is the first signaling error any participant reported.
func (l *loadRun) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, pt := range l.all {
		select {
		case err := <-pt.errs:
			return err
		default:
		}
	}
	return nil
}

// runLoad connects the rooms (subscribers first, then the publisher, as
// lkload does), waits until every subscriber receives video and audio,
// warms up, and measures the window.
func runLoad(ctx context.Context, o loadOptions) (*loadgen.CallsReport, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	cpu := o.serverCPU
	if cpu == nil {
		cpu = func() (float64, error) { return loadgen.ProcCPU(o.ServerPID) }
	}
	if _, err := cpu(); err != nil {
		return nil, err
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "fanout: "+format+"\n", args...)
		}
	}
	media, stopMedia := context.WithCancel(ctx)
	defer stopMedia()
	l := &loadRun{subs: map[string]*participant{}}
	defer func() {
		for _, pt := range l.all {
			pt.close()
		}
	}()
	run := "f" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	errs := make([]error, o.Rooms)
	sem := make(chan struct{}, o.Setup)
	var wg sync.WaitGroup
	for i := range o.Rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			room := fmt.Sprintf("%s-%d", run, i)
			for j := range o.Subscribers {
				pt, err := connect(media, o.Addr, room, fmt.Sprintf("sub-%d", j), false, o.Bitrate, false)
				if err != nil {
					errs[i] = err
					return
				}
				l.add(fmt.Sprintf("%d/%d", i, j), pt)
			}
			pt, err := connect(media, o.Addr, room, "pub", true, o.Bitrate, o.Numbered)
			if err != nil {
				errs[i] = err
				return
			}
			l.add("", pt)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	want := o.Rooms * o.Subscribers
	progress("%d rooms of 1→%d joined; waiting for media", o.Rooms, o.Subscribers)
	deadline := time.Now().Add(o.StepTimeout)
	for {
		n := 0
		for _, c := range l.sample() {
			if c.Video > 0 && c.Audio > 0 {
				n++
			}
		}
		if n >= want {
			break
		}
		if err := l.failed(); err != nil {
			return nil, fmt.Errorf("signaling: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("media reached %d of %d subscribers within %s", n, want, o.StepTimeout)
		}
		if err := loadgen.SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
	progress("media flows to %d subscribers", want)
	w, err := loadgen.MeasureCalls(ctx, o.Warmup, o.Window, l.sample, cpu, progress)
	if err != nil {
		return nil, err
	}
	rep := &loadgen.CallsReport{Scenario: "fanout", Server: "senim", Addr: o.Addr, Rooms: o.Rooms, Subscribers: o.Subscribers,
		Bitrate: o.Bitrate, Note: "bench/fanout: media/sfu rooms of 1 publisher and k subscribers, loopback signaling of the harness's own",
		Warmup: o.Warmup.Seconds(), Seconds: w.Seconds, ServerCPUSeconds: w.ServerCPU, CPUSource: "proc", ToolCPUSeconds: w.ToolCPU}
	loadgen.FillCalls(rep, w.Before, w.After)
	return rep, nil
}
