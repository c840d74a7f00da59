package loadgen

import (
	"sort"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to an hour, to three
// significant digits: 0.1% precision at every scale.
const (
	histMin  = 1
	histMax  = int64(time.Hour / time.Microsecond)
	histSigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigs) }

func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us) // in range by construction
}

// second is what happened during one second of the run.
type second struct {
	other  *hdrhistogram.Histogram // other-party latencies recorded this second
	done   int64                   // acts that reached their end
	errors int64
}

// recorder collects a run's measurements; every method is safe for
// concurrent use.
type recorder struct {
	mu        sync.Mutex
	start     time.Time
	steps     map[string]*hdrhistogram.Histogram
	otherStep map[string]bool
	other     *hdrhistogram.Histogram
	errors    map[string]int64
	timeline  []*second

	started, completed, signed, refused, cancelled, failed, aborted int64
	inFlight                                                        int64
}

func newRecorder(start time.Time) *recorder {
	return &recorder{start: start, steps: map[string]*hdrhistogram.Histogram{}, otherStep: map[string]bool{},
		other: newHist(), errors: map[string]int64{}}
}

// at returns the second of the timeline that t falls in; r.mu is held.
func (r *recorder) at(t time.Time) *second {
	i := int(t.Sub(r.start) / time.Second)
	if i < 0 {
		i = 0
	}
	for len(r.timeline) <= i {
		r.timeline = append(r.timeline, &second{other: hdrhistogram.New(histMin, histMax, 2)})
	}
	return r.timeline[i]
}

// step records one step's latency. other marks a step measured at the
// other party (the event reached them), as opposed to one's own answer.
func (r *recorder) step(name string, other bool, d time.Duration, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.steps[name]
	if h == nil {
		h = newHist()
		r.steps[name] = h
		r.otherStep[name] = other
	}
	record(h, d)
	if other {
		record(r.other, d)
		record(r.at(now).other, d)
	}
}

func (r *recorder) err(code string, now time.Time) {
	r.mu.Lock()
	r.errors[code]++
	r.at(now).errors++
	r.mu.Unlock()
}

func (r *recorder) actStarted() {
	r.mu.Lock()
	r.started++
	r.inFlight++
	r.mu.Unlock()
}

// actEnded counts an act's end: signed, refused, cancelled (the act reached
// a final state), failed (a step went wrong) or aborted (the run ended).
func (r *recorder) actEnded(outcome string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight--
	switch outcome {
	case "signed":
		r.signed++
	case "refused":
		r.refused++
	case "cancelled":
		r.cancelled++
	case "aborted":
		r.aborted++
		return
	default:
		r.failed++
		return
	}
	r.completed++
	r.at(now).done++
}

// live is the progress line's view: acts in flight, acts completed and
// errors in total, and the last full second's completions and p99.
type live struct {
	inFlight, completed, errors, doneLastSecond int64
	p99LastSecond                               time.Duration
}

func (r *recorder) live(now time.Time) live {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := live{inFlight: r.inFlight, completed: r.completed}
	for _, n := range r.errors {
		l.errors += n
	}
	if i := int(now.Sub(r.start)/time.Second) - 1; i >= 0 && i < len(r.timeline) {
		s := r.timeline[i]
		l.doneLastSecond = s.done
		l.p99LastSecond = time.Duration(s.other.ValueAtQuantile(99)) * time.Microsecond
	}
	return l
}

// StepStats are one step's latencies in milliseconds.
type StepStats struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	// OtherParty: measured until the other party saw the event.
	OtherParty bool `json:"other_party"`
}

func ms(us int64) float64 { return float64(us) / 1000 }

func statsOf(h *hdrhistogram.Histogram, other bool) StepStats {
	return StepStats{Count: h.TotalCount(), P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()), OtherParty: other}
}

// Point is one second of the run, for the latency-over-time plot.
type Point struct {
	Second int     `json:"second"`
	Done   int64   `json:"done"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// Percentile is one point of a latency distribution.
type Percentile struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// snapshot fills the report's measurements.
func (r *recorder) snapshot(rep *Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep.ActsStarted, rep.ActsCompleted = r.started, r.completed
	rep.ActsSigned, rep.ActsRefused, rep.ActsCancelled = r.signed, r.refused, r.cancelled
	rep.ActsFailed, rep.ActsAborted = r.failed, r.aborted
	rep.Errors = map[string]int64{}
	for k, v := range r.errors {
		rep.Errors[k] = v
	}
	rep.Steps = map[string]StepStats{}
	rep.Percentiles = map[string][]Percentile{}
	for name, h := range r.steps {
		rep.Steps[name] = statsOf(h, r.otherStep[name])
		rep.Percentiles[name] = percentiles(h)
	}
	rep.OtherPartyP99 = ms(r.other.ValueAtQuantile(99))
	rep.Percentiles["all_other_party"] = percentiles(r.other)
	for i, s := range r.timeline {
		p := Point{Second: i, Done: s.done, Errors: s.errors}
		if s.other.TotalCount() > 0 {
			p.P50, p.P99, p.Max = ms(s.other.ValueAtQuantile(50)), ms(s.other.ValueAtQuantile(99)), ms(s.other.Max())
		}
		rep.Timeline = append(rep.Timeline, p)
	}
}

// percentiles samples a distribution at 0, 50, 75, 87.5 … up to 99.999%.
func percentiles(h *hdrhistogram.Histogram) []Percentile {
	if h.TotalCount() == 0 {
		return nil
	}
	var out []Percentile
	for _, q := range []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100} {
		out = append(out, Percentile{Percentile: q, Ms: ms(h.ValueAtQuantile(q))})
	}
	return out
}

// stepNames lists the report's steps in a stable order.
func stepNames(m map[string]StepStats) []string {
	order := map[string]int{}
	for i, s := range stepOrder {
		order[s] = i
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, iok := order[names[i]]
		oj, jok := order[names[j]]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return names[i] < names[j]
	})
	return names
}
