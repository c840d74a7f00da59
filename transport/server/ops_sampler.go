package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/domain/iin"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// opsHistory is how many one-second snapshots the dashboard keeps: 15
// minutes, so that a page opened now draws the last quarter hour.
const opsHistory = 15 * 60

// opsMaxStreams caps the live /ops/events streams at once.
const opsMaxStreams = 32

// OpsSnapshot is one second of the dashboard: rates are per second over
// the last second, latencies in milliseconds over the commands of the last
// second. Its JSON is the /ops/snapshot answer and each /ops/events
// "snapshot" event (PROTOCOL.md, "The operators' dashboard").
type OpsSnapshot struct {
	// T is the sample's time, Unix milliseconds.
	T int64 `json:"t"`

	Acts           map[string]float64 `json:"acts"` // by phase
	ActsPerSec     float64            `json:"acts_per_sec"`
	CommandsPerSec float64            `json:"commands_per_sec"`
	CommandP50     float64            `json:"command_p50_ms"`
	CommandP99     float64            `json:"command_p99_ms"`
	AppendP50      float64            `json:"append_p50_ms"`
	AppendP99      float64            `json:"append_p99_ms"`
	AppendsPerSec  float64            `json:"appends_per_sec"`
	// WALSyncP99 is the p99 of one sync of the event log's WAL over the
	// last second: the disk's part of an append's latency.
	WALSyncP99 float64 `json:"wal_sync_p99_ms"`
	BatchSize  float64 `json:"batch_size"` // mean events per append in the last second

	Sessions    map[string]float64 `json:"sessions"` // by role
	Notaries    map[string]float64 `json:"notaries"` // available, busy, away
	Waiting     float64            `json:"waiting"`
	LongestWait float64            `json:"longest_wait_s"`

	Rooms         float64 `json:"rooms"`
	Streams       float64 `json:"streams"`
	PacketsPerSec float64 `json:"packets_per_sec"`
	NACKPerSec    float64 `json:"nack_per_sec"`
	PLIPerSec     float64 `json:"pli_per_sec"`

	TURNAllocations float64 `json:"turn_allocations"`
	TURNBytesPerSec float64 `json:"turn_bytes_per_sec"`

	RefusalsPerSec map[string]float64 `json:"refusals_per_sec"` // by code
	Panics         float64            `json:"panics"`
	Sheds          float64            `json:"sheds"`

	CPU        float64 `json:"cpu"` // cores busy
	RSS        float64 `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
	GCPauseMS  float64 `json:"gc_pause_ms"` // mean pause of the GCs in the last second

	// The tables: only in the latest snapshot, never in the history.
	Calls   []OpsCall   `json:"calls,omitempty"`
	Online  []OpsNotary `json:"online,omitempty"`
	Partial bool        `json:"partial,omitempty"` // the actors did not answer in time
}

// OpsCall is a call waiting now. The IIN is masked.
type OpsCall struct {
	ActID      string  `json:"act_id"`
	Principal  string  `json:"principal"`
	ActionType string  `json:"action_type"`
	WaitS      float64 `json:"wait_s"`
	OfferedTo  string  `json:"offered_to,omitempty"`
}

// OpsNotary is a signed-in notary: state is available, offered, in_call or
// away; act is the call they are in or are offered.
type OpsNotary struct {
	Login    string `json:"login"`
	Sessions int    `json:"sessions"`
	State    string `json:"state"`
	Act      string `json:"act,omitempty"`
}

// opsSampler takes a snapshot each second, keeps the last 15 minutes and
// hands each new one to the live streams.
type opsSampler struct {
	sys *actors.System
	log *eventlog.Log
	now func() time.Time
	zl  zerolog.Logger

	mu      sync.Mutex
	ring    []OpsSnapshot // oldest first, at most opsHistory
	last    OpsSnapshot   // with tables
	streams map[chan []byte]struct{}

	prev   map[string]*dto.MetricFamily
	prevAt time.Time
	ticks  int
	acts   map[string]float64
	stop   chan struct{}
	done   chan struct{}
}

func newOpsSampler(sys *actors.System, log *eventlog.Log, now func() time.Time, zl zerolog.Logger) *opsSampler {
	return &opsSampler{sys: sys, log: log, now: now, zl: zl, streams: map[chan []byte]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

func (p *opsSampler) run() {
	defer close(p.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	p.sample()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.sample()
		}
	}
}

func (p *opsSampler) close() {
	close(p.stop)
	<-p.done
}

// sample takes one snapshot: the actors' views first (their gauges feed
// /metrics too), then the registry.
func (p *opsSampler) sample() {
	now := p.now()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var snap OpsSnapshot
	snap.T = now.UnixMilli()
	var desk actors.DeskView
	var ops actors.OperatorsView
	if a, err := p.sys.Ask(ctx, p.sys.Deps().Desk, func(r *actorPID) any { return actors.DeskSnapshot{ReplyTo: r} }); err == nil {
		desk, _ = a.(actors.DeskView)
	} else {
		snap.Partial = true
	}
	if a, err := p.sys.Ask(ctx, p.sys.Operators(), func(r *actorPID) any { return actors.OperatorsSnapshot{ReplyTo: r} }); err == nil {
		ops, _ = a.(actors.OperatorsView)
	} else {
		snap.Partial = true
	}
	p.tables(&snap, desk, ops, now)
	// The phase index is scanned every 5 s: it grows with the log.
	if p.ticks%5 == 0 {
		p.countActs()
	}
	p.ticks++

	fams, err := metrics.Registry.Gather()
	if err != nil {
		p.zl.Warn().Err(err).Msg("ops: gathering metrics")
	}
	cur := make(map[string]*dto.MetricFamily, len(fams))
	for _, f := range fams {
		cur[f.GetName()] = f
	}
	dt := now.Sub(p.prevAt).Seconds()
	if p.prev == nil || dt <= 0 {
		dt = 0
	}
	p.fill(&snap, cur, p.prev, dt)
	p.prev, p.prevAt = cur, now

	p.push(snap)
}

// push keeps snap (without its tables) in the 15-minute ring and hands it
// to every live stream, never waiting for one.
func (p *opsSampler) push(snap OpsSnapshot) {
	hist := snap
	hist.Calls, hist.Online, hist.Partial = nil, nil, false
	msg, _ := json.Marshal(snap)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring = append(p.ring, hist)
	if len(p.ring) > opsHistory {
		p.ring = append(p.ring[:0], p.ring[len(p.ring)-opsHistory:]...)
	}
	p.last = snap
	for ch := range p.streams {
		select {
		case ch <- msg:
		default: // a stream that does not keep up misses a second
		}
	}
}

// tables fills the waiting calls and the notaries online, and the gauges
// that come from them.
func (p *opsSampler) tables(snap *OpsSnapshot, desk actors.DeskView, ops actors.OperatorsView, now time.Time) {
	for _, c := range desk.Waiting {
		wait := math.Max(0, now.Sub(c.RequestedAt).Seconds())
		snap.Calls = append(snap.Calls, OpsCall{ActID: c.ActID, Principal: iin.IIN(c.PrincipalIIN).Masked(),
			ActionType: c.ActionType, WaitS: math.Round(wait), OfferedTo: c.OfferedTo})
		snap.LongestWait = math.Max(snap.LongestWait, math.Round(wait))
	}
	snap.Waiting = float64(len(desk.Waiting))
	byLogin := map[string]actors.DeskNotary{}
	for _, n := range desk.Notaries {
		byLogin[n.Login] = n
	}
	snap.Notaries = map[string]float64{"available": 0, "busy": 0, "away": 0}
	for login, sessions := range ops.Online {
		n := byLogin[login]
		on := OpsNotary{Login: login, Sessions: sessions, State: "away"}
		switch {
		case n.InCall != "":
			on.State, on.Act = "in_call", n.InCall
			snap.Notaries["busy"]++
		case n.Offer != "":
			on.State, on.Act = "offered", n.Offer
			snap.Notaries["busy"]++
		case n.Available:
			on.State = "available"
			snap.Notaries["available"]++
		default:
			snap.Notaries["away"]++
		}
		snap.Online = append(snap.Online, on)
	}
	sort.Slice(snap.Online, func(i, j int) bool { return snap.Online[i].Login < snap.Online[j].Login })
	if !snap.Partial {
		for k, v := range snap.Notaries {
			metrics.Notaries.WithLabelValues(k).Set(v)
		}
		metrics.LongestWait.Set(snap.LongestWait)
	}
}

// countActs sets senim_acts{phase} from the log's phase index.
func (p *opsSampler) countActs() {
	counts := map[string]float64{}
	err := p.log.Scan("phase", "", func(value, _ string) error {
		counts[value]++
		return nil
	})
	if err != nil {
		p.zl.Warn().Err(err).Msg("ops: counting acts by phase")
		return
	}
	for k := range p.acts {
		if _, ok := counts[k]; !ok {
			metrics.Acts.WithLabelValues(k).Set(0)
		}
	}
	for k, v := range counts {
		metrics.Acts.WithLabelValues(k).Set(v)
	}
	p.acts = counts
}

// fill computes the snapshot's figures from the registry now and a second
// ago (dt seconds; 0 on the first sample, when rates are 0).
func (p *opsSampler) fill(s *OpsSnapshot, cur, prev map[string]*dto.MetricFamily, dt float64) {
	rate := func(name string, match func(*dto.Metric) bool) float64 {
		if dt == 0 {
			return 0
		}
		d := sumOf(cur[name], match) - sumOf(prev[name], match)
		return math.Max(0, d) / dt
	}
	s.Acts = byLabel(cur["senim_acts"], "phase")
	s.ActsPerSec = rate("senim_commands_total", func(m *dto.Metric) bool {
		return label(m, "command") == "submit_application" && label(m, "code") == "ok"
	})
	s.CommandsPerSec = rate("senim_commands_total", nil)
	s.CommandP50, s.CommandP99 = quantiles(cur["senim_command_duration_seconds"], prev["senim_command_duration_seconds"])
	s.AppendP50, s.AppendP99 = quantiles(cur["senim_eventlog_append_seconds"], prev["senim_eventlog_append_seconds"])
	_, s.WALSyncP99 = quantiles(cur["senim_store_wal_sync_seconds"], prev["senim_store_wal_sync_seconds"])
	if dt > 0 {
		s.AppendsPerSec = math.Max(0, float64(histCount(cur["senim_eventlog_append_seconds"])-histCount(prev["senim_eventlog_append_seconds"]))) / dt
	}
	if b, bp := cur["senim_eventlog_batch_size"], prev["senim_eventlog_batch_size"]; b != nil && bp != nil && len(b.Metric) > 0 && len(bp.Metric) > 0 {
		c, q := b.Metric[0].GetHistogram(), bp.Metric[0].GetHistogram()
		if n := c.GetSampleCount() - q.GetSampleCount(); n > 0 {
			s.BatchSize = (c.GetSampleSum() - q.GetSampleSum()) / float64(n)
		}
	}
	s.Sessions = byLabel(cur["senim_sessions"], "role")
	s.Rooms = sumOf(cur["senim_media_rooms"], nil)
	s.Streams = sumOf(cur["senim_media_participants"], nil)
	s.PacketsPerSec = rate("senim_media_forwarded_packets_total", nil)
	s.NACKPerSec = rate("senim_media_rtcp_total", func(m *dto.Metric) bool { return label(m, "type") == "nack" })
	s.PLIPerSec = rate("senim_media_rtcp_total", func(m *dto.Metric) bool { return label(m, "type") == "pli" })
	s.TURNAllocations = sumOf(cur["senim_turn_allocations"], nil)
	s.TURNBytesPerSec = rate("senim_turn_relayed_bytes_total", nil)
	s.RefusalsPerSec = map[string]float64{}
	if dt > 0 {
		for code, v := range byLabel(cur["senim_commands_total"], "code") {
			if code == "ok" {
				continue
			}
			if d := v - byLabel(prev["senim_commands_total"], "code")[code]; d > 0 {
				s.RefusalsPerSec[code] += d / dt
			}
		}
		for reason, v := range byLabel(cur["senim_refused_total"], "reason") {
			if d := v - byLabel(prev["senim_refused_total"], "reason")[reason]; d > 0 {
				s.RefusalsPerSec[reason] += d / dt
			}
		}
	}
	s.Panics = sumOf(cur["senim_panics_recovered_total"], nil)
	s.Sheds = sumOf(cur["senim_refused_total"], func(m *dto.Metric) bool { return label(m, "reason") == "overloaded" })
	s.CPU = rate("process_cpu_seconds_total", nil)
	s.RSS = sumOf(cur["process_resident_memory_bytes"], nil)
	s.Goroutines = sumOf(cur["go_goroutines"], nil)
	if gc, gp := cur["go_gc_duration_seconds"], prev["go_gc_duration_seconds"]; gc != nil && gp != nil && len(gc.Metric) > 0 && len(gp.Metric) > 0 {
		c, q := gc.Metric[0].GetSummary(), gp.Metric[0].GetSummary()
		if n := c.GetSampleCount() - q.GetSampleCount(); n > 0 {
			s.GCPauseMS = (c.GetSampleSum() - q.GetSampleSum()) / float64(n) * 1000
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// sumOf adds the family's series that match (all when match is nil).
func sumOf(f *dto.MetricFamily, match func(*dto.Metric) bool) float64 {
	var sum float64
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		if match == nil || match(m) {
			sum += value(m)
		}
	}
	return sum
}

// byLabel adds the family's series up by one label's value.
func byLabel(f *dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		out[label(m, name)] += value(m)
	}
	return out
}

func histCount(f *dto.MetricFamily) uint64 {
	if f == nil || len(f.Metric) == 0 {
		return 0
	}
	return f.Metric[0].GetHistogram().GetSampleCount()
}

// quantiles are p50 and p99 in milliseconds of the observations a
// histogram gained since prev, interpolated inside a bucket as Prometheus'
// histogram_quantile does; 0 when nothing was observed.
func quantiles(cur, prev *dto.MetricFamily) (p50, p99 float64) {
	if cur == nil || len(cur.Metric) == 0 {
		return 0, 0
	}
	h := cur.Metric[0].GetHistogram()
	var before []*dto.Bucket
	var beforeCount uint64
	if prev != nil && len(prev.Metric) > 0 {
		before = prev.Metric[0].GetHistogram().GetBucket()
		beforeCount = prev.Metric[0].GetHistogram().GetSampleCount()
	}
	total := h.GetSampleCount() - beforeCount
	if total == 0 {
		return 0, 0
	}
	q := func(phi float64) float64 {
		rank := phi * float64(total)
		lower, below := 0.0, uint64(0)
		for i, b := range h.GetBucket() {
			n := b.GetCumulativeCount()
			if i < len(before) {
				n -= before[i].GetCumulativeCount()
			}
			if float64(n) >= rank {
				inBucket := n - below
				if inBucket == 0 {
					return b.GetUpperBound() * 1000
				}
				return (lower + (b.GetUpperBound()-lower)*(rank-float64(below))/float64(inBucket)) * 1000
			}
			lower, below = b.GetUpperBound(), n
		}
		return lower * 1000 // above the last bucket: its bound is all we know
	}
	return q(0.5), q(0.99)
}

func (p *opsSampler) latest() OpsSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// opsEvents streams the dashboard: first the history (event "history",
// the ring as one JSON array), then a "snapshot" event each second, until
// the client goes, the server stops, or the session ends.
func (s *Server) opsEvents(w http.ResponseWriter, r *http.Request) {
	p := s.opsSampler
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": "streaming unsupported"})
		return
	}
	ch := make(chan []byte, 4)
	p.mu.Lock()
	if len(p.streams) >= opsMaxStreams {
		p.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": CodeOpsTooManyStreams,
			"message": "too many dashboards are open; close one and reload"})
		return
	}
	p.streams[ch] = struct{}{}
	history, _ := json.Marshal(p.ring)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.streams, ch)
		p.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy must not hold the stream back
	w.WriteHeader(http.StatusOK)
	var b strings.Builder
	b.WriteString("retry: 2000\nevent: history\ndata: ")
	b.Write(history)
	b.WriteString("\n\n")
	if _, err := w.Write([]byte(b.String())); err != nil {
		return
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-p.stop:
			return
		case msg := <-ch:
			if _, ok := s.opsSession(r); !ok {
				return // signed out, expired or removed: the stream ends too
			}
			if _, err := w.Write(append(append([]byte("event: snapshot\ndata: "), msg...), '\n', '\n')); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
