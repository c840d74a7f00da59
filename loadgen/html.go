package loadgen

import (
	"fmt"
	"html"
	"math"
	"os"
	"sort"
	"strings"
)

// palette colours the plots' lines.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
	"#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"}

// series is one line of a plot.
type series struct {
	name   string
	points [][2]float64
}

// plot is an SVG line chart; the tool draws it itself so that the report
// needs no script and no network.
type plot struct {
	title, xLabel, yLabel string
	lines                 []series
	// xTicks, if set, label the x axis at these values (else evenly).
	xTicks map[float64]string
}

const (
	plotW, plotH           = 900, 320
	padL, padR, padT, padB = 70, 190, 30, 45
)

func (p plot) svg() string {
	var b strings.Builder
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range p.lines {
		for _, pt := range s.points {
			minX, maxX, maxY = math.Min(minX, pt[0]), math.Max(maxX, pt[0]), math.Max(maxY, pt[1])
		}
	}
	if math.IsInf(minX, 0) {
		minX, maxX = 0, 1
	}
	if maxX == minX {
		maxX = minX + 1
	}
	if maxY == 0 {
		maxY = 1
	}
	maxY = niceCeil(maxY)
	w, h := float64(plotW-padL-padR), float64(plotH-padT-padB)
	x := func(v float64) float64 { return padL + (v-minX)/(maxX-minX)*w }
	y := func(v float64) float64 { return padT + h - v/maxY*h }
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`, plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, padL, html.EscapeString(p.title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, padL, padT, w, h)
	for i := 0; i <= 4; i++ {
		v := maxY * float64(i) / 4
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#eee"/>`, padL, padL+w, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(v)+4, trimFloat(v))
	}
	if p.xTicks != nil {
		keys := make([]float64, 0, len(p.xTicks))
		for k := range p.xTicks {
			keys = append(keys, k)
		}
		sort.Float64s(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(k), plotH-padB+16, html.EscapeString(p.xTicks[k]))
		}
	} else {
		for i := 0; i <= 5; i++ {
			v := minX + (maxX-minX)*float64(i)/5
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(v), plotH-padB+16, trimFloat(v))
		}
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, padL+w/2, plotH-8, html.EscapeString(p.xLabel))
	fmt.Fprintf(&b, `<text x="14" y="%.1f" text-anchor="middle" transform="rotate(-90 14 %.1f)">%s</text>`, padT+h/2, padT+h/2, html.EscapeString(p.yLabel))
	for i, s := range p.lines {
		color := palette[i%len(palette)]
		var pts []string
		for _, pt := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(pt[0]), y(pt[1])))
		}
		if len(pts) > 0 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
		}
		ly := padT + 10 + 16*i
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="%s" stroke-width="3"/>`, padL+w+12, padL+w+30, ly, ly, color)
		fmt.Fprintf(&b, `<text x="%.0f" y="%d">%s</text>`, padL+w+36, ly+4, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-" {
		return "0"
	}
	return s
}

// nines places a percentile on a log scale of 1/(1-q): 90% at 1, 99% at 2.
func nines(q float64) float64 { return math.Log10(1 / (1 - q/100)) }

// WriteHTML writes a self-contained report: the figures, the step table,
// latency over time and the latency distribution of each step, as inline
// SVG. It is well-formed XML, so any XML parser reads it.
func (r *Report) WriteHTML(path string) error {
	var b strings.Builder
	e := html.EscapeString
	b.WriteString(`<!DOCTYPE html>` + "\n" + `<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/><title>Senim load report</title>`)
	b.WriteString(`<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}</style></head><body>`)
	fmt.Fprintf(&b, `<h1>Senim load report: %s</h1>`, e(r.Scenario))
	b.WriteString(`<table>`)
	row := func(k, v string) { fmt.Fprintf(&b, `<tr><th>%s</th><td>%s</td></tr>`, e(k), e(v)) }
	row("server", r.Addr)
	if r.Scenario == "sessions" {
		row("sessions", fmt.Sprint(r.Sessions))
		row("server RSS per session", fmt.Sprintf("%.1f KiB", r.ServerRSSPerSessionBytes/1024))
		row("tool RSS per session", fmt.Sprintf("%.1f KiB", r.ToolRSSPerSessionBytes/1024))
	} else {
		if r.Mode == "closed" {
			row("loop", fmt.Sprintf("closed, %d acts in flight", r.InFlight))
		} else {
			row("loop", fmt.Sprintf("open, %.2f acts/s", r.Rate))
		}
		row("notaries / citizens / think / media", fmt.Sprintf("%d / %d / %s / %v", r.Notaries, r.Citizens, r.Think, r.Media))
		row("acts started / completed", fmt.Sprintf("%d / %d (signed %d, refused %d, cancelled %d; failed %d, aborted %d)",
			r.ActsStarted, r.ActsCompleted, r.ActsSigned, r.ActsRefused, r.ActsCancelled, r.ActsFailed, r.ActsAborted))
		row("acts per second", fmt.Sprintf("%.2f over %.1f s", r.ActsPerSecond, r.Seconds))
		row("other-party p99", fmt.Sprintf("%.1f ms", r.OtherPartyP99))
		row("CPU per act: server / tool", fmt.Sprintf("%.1f ms / %.1f ms", r.ServerCPUPerActMs, r.ToolCPUPerActMs))
	}
	row("server CPU / tool CPU", fmt.Sprintf("%.2f s / %.2f s", r.ServerCPUSeconds, r.ToolCPUSeconds))
	row("server RSS before → after", fmt.Sprintf("%.1f → %.1f MiB", r.ServerRSSBeforeBytes/(1<<20), r.ServerRSSBytes/(1<<20)))
	codes := make([]string, 0, len(r.Errors))
	for c := range r.Errors {
		codes = append(codes, fmt.Sprintf("%s: %d", c, r.Errors[c]))
	}
	sort.Strings(codes)
	if len(codes) == 0 {
		codes = []string{"none"}
	}
	row("errors", strings.Join(codes, ", "))
	b.WriteString(`</table><h2>Steps</h2><table><tr><th>step</th><th>seen by</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>`)
	names := stepNames(r.Steps)
	for _, name := range names {
		s := r.Steps[name]
		by := "other party"
		if !s.OtherParty {
			by = "self"
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%d</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>`,
			e(name), by, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	b.WriteString(`</table>`)
	if r.Scenario != "sessions" {
		var p50, p99, mx, done []([2]float64)
		for _, pt := range r.Timeline {
			x := float64(pt.Second)
			p50, p99, mx = append(p50, [2]float64{x, pt.P50}), append(p99, [2]float64{x, pt.P99}), append(mx, [2]float64{x, pt.Max})
			done = append(done, [2]float64{x, float64(pt.Done)})
		}
		b.WriteString(`<h2>Latency over time</h2><p>Every other-party step, by the second it ended in.</p>`)
		b.WriteString(plot{title: "other-party step latency", xLabel: "seconds into the run", yLabel: "ms",
			lines: []series{{"p50", p50}, {"p99", p99}, {"max", mx}}}.svg())
		b.WriteString(plot{title: "acts completed per second", xLabel: "seconds into the run", yLabel: "acts",
			lines: []series{{"completed", done}}}.svg())
	}
	b.WriteString(`<h2>Latency by percentile</h2>`)
	var lines []series
	for _, name := range append([]string{"all_other_party"}, names...) {
		var pts [][2]float64
		for _, p := range r.Percentiles[name] {
			if p.Percentile < 100 {
				pts = append(pts, [2]float64{nines(p.Percentile), p.Ms})
			}
		}
		if len(pts) > 0 {
			lines = append(lines, series{name, pts})
		}
	}
	b.WriteString(plot{title: "latency by percentile", xLabel: "percentile", yLabel: "ms", lines: lines,
		xTicks: map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 4: "99.99%", 5: "99.999%"}}.svg())
	b.WriteString(`</body></html>` + "\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
