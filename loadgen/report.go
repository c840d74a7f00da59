package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"text/tabwriter"
)

// stepOrder is the order of an act's steps, for tables and plots.
var stepOrder = []string{"signin", "submit", "consent", "call_offer", "accept", "media_join", "checks", "registry_lookup",
	"draft", "changes", "approve", "invoice", "payment", "document_code", "sign", "refuse", "cancel"}

// Report is what a run measured. The JSON names are what scripts read.
type Report struct {
	Scenario string  `json:"scenario"` // acts or sessions
	Addr     string  `json:"addr"`
	Mode     string  `json:"mode,omitempty"` // closed or open
	InFlight int     `json:"in_flight,omitempty"`
	Rate     float64 `json:"rate,omitempty"`
	Notaries int     `json:"notaries,omitempty"`
	Citizens int     `json:"citizens,omitempty"`
	Think    string  `json:"think,omitempty"`
	Media    bool    `json:"media,omitempty"`
	// Seconds is the measured window: from the first act's start to the
	// last act's end.
	Seconds float64 `json:"seconds"`

	ActsStarted   int64 `json:"acts_started"`
	ActsCompleted int64 `json:"acts_completed"` // reached a final state: signed, refused or cancelled
	ActsSigned    int64 `json:"acts_signed"`
	ActsRefused   int64 `json:"acts_refused"`
	ActsCancelled int64 `json:"acts_cancelled"`
	ActsFailed    int64 `json:"acts_failed"`  // a step went wrong (see errors)
	ActsAborted   int64 `json:"acts_aborted"` // still running when the drain time ran out
	// Errors counts failures by the server's code, or the tool's
	// (timeout, conn_closed, dial_failed, foreign_link, tool_saturated, tool_error).
	Errors map[string]int64 `json:"errors"`
	// Steps: latency from when a step was due to when its outcome reached
	// the other party (other_party) or the actor (own answer).
	Steps         map[string]StepStats `json:"steps"`
	OtherPartyP99 float64              `json:"other_party_p99_ms"`
	ActsPerSecond float64              `json:"acts_per_second"`

	ServerCPUSeconds     float64 `json:"server_cpu_seconds"`
	ServerRSSBytes       float64 `json:"server_rss_bytes"`
	ServerRSSBeforeBytes float64 `json:"server_rss_before_bytes"`
	ServerCPUPerActMs    float64 `json:"server_cpu_per_act_ms,omitempty"`
	// ServerSignedActs is the server's own count of signed acts during the
	// run (senim_commands_total{command="sign_act",code="ok"}).
	ServerSignedActs float64 `json:"server_signed_acts"`
	// ServerMediaBytes is what the SFU forwarded during the run (--media).
	ServerMediaBytes float64 `json:"server_media_bytes"`
	// ServerCommandP99Ms, ServerAppendP99Ms and ServerWALSyncP99Ms are,
	// from the server's own histograms over the run, the p99 of the time
	// an act spends on one command (its durable append included), of the
	// durable append alone, and of one sync of the event log's WAL (the
	// disk's part: an append waits for its group's sync, and may wait for
	// the one under way before it): upper bounds of the histogram
	// buckets, so coarse, but they say which part of the latency the tool
	// measured is the server's, and which the disk's.
	ServerCommandP99Ms float64 `json:"server_command_p99_ms"`
	ServerAppendP99Ms  float64 `json:"server_append_p99_ms"`
	ServerWALSyncP99Ms float64 `json:"server_wal_sync_p99_ms"`
	// The floor of an act: the CMS verifications and the fsyncs it needs,
	// counted during the run (the CMS the tool sent, the server's durable
	// appends) and timed by the tool on the same box at the end of the run
	// (64 of each, the timing thread's own CPU). The fsync is the server
	// WAL's data sync made as the server makes it: FloorFsyncAIO says
	// that was the kernel's asynchronous I/O, whose kernel worker's CPU
	// neither the server's process nor the timing thread counts.
	// FloorPerActMs is their CPU; ServerCPUOverFloor is server CPU per act
	// ÷ that. FloorWallPerActMs counts an fsync at its median wall time
	// instead (the disk's time, which no CPU figure includes), and
	// ServerCPUOverWallFloor divides by it. FloorFsyncWholeMs is the same
	// sync made in the thread (fdatasync), with the kernel's work for it:
	// FloorWholePerActMs is the floor counted so, and
	// MachineLessToolOverFloor divides the machine's CPU less the tool's
	// by it, which counts the kernel's work on both sides.
	FloorCMSVerifies       int64   `json:"floor_cms_verifies"`
	FloorVerifyMs          float64 `json:"floor_verify_cpu_ms"`
	FloorFsyncs            float64 `json:"floor_fsyncs"`
	FloorFsyncMs           float64 `json:"floor_fsync_cpu_ms"`
	FloorFsyncWallMs       float64 `json:"floor_fsync_wall_ms"`
	FloorPerActMs          float64 `json:"floor_per_act_ms,omitempty"`
	FloorWallPerActMs      float64 `json:"floor_wall_per_act_ms,omitempty"`
	ServerCPUOverFloor     float64 `json:"server_cpu_over_floor,omitempty"`
	ServerCPUOverWallFloor float64 `json:"server_cpu_over_wall_floor,omitempty"`
	FloorFsyncAIO          bool    `json:"floor_fsync_aio"`
	FloorFsyncWholeMs      float64 `json:"floor_fsync_whole_cpu_ms"`
	FloorWholePerActMs     float64 `json:"floor_whole_per_act_ms,omitempty"`
	ToolCPUSeconds         float64 `json:"tool_cpu_seconds"`
	ToolCPUPerActMs        float64 `json:"tool_cpu_per_act_ms,omitempty"`
	// MachineCPUSeconds is the busy time of the whole machine over the
	// run, when the server is on its loopback; MachineLessToolPerActMs
	// is that less the tool's, per act: the server with the kernel's work
	// for it (a kernel worker's fsyncs, which the server's own CPU does
	// not count), and anything else the machine did.
	MachineCPUSeconds        float64 `json:"machine_cpu_seconds,omitempty"`
	MachineLessToolPerActMs  float64 `json:"machine_less_tool_cpu_per_act_ms,omitempty"`
	MachineLessToolOverFloor float64 `json:"machine_less_tool_over_floor,omitempty"`
	ToolMaxRSSBytes          int64   `json:"tool_max_rss_bytes"`
	// NotaryPacingSeconds is the time the simulated notaries waited to stay
	// under the server's per-connection message rate, summed over acts.
	// Much of it means the notaries, not the server, set the pace: run
	// with more --notaries.
	NotaryPacingSeconds float64 `json:"notary_pacing_seconds"`

	// The active scenario: acts held open, the pace asked for, and the
	// steps measured.
	ActiveActs           int     `json:"active_acts,omitempty"`
	StepsPerSecondTarget float64 `json:"steps_per_second_target,omitempty"`
	StepsMeasured        int64   `json:"steps_measured,omitempty"`
	StepsPerSecond       float64 `json:"steps_per_second,omitempty"`
	ServerCPUPerStepMs   float64 `json:"server_cpu_per_step_ms,omitempty"`
	ToolCPUPerStepMs     float64 `json:"tool_cpu_per_step_ms,omitempty"`

	Sessions                 int     `json:"sessions,omitempty"`
	ServerRSSPerSessionBytes float64 `json:"server_rss_per_session_bytes,omitempty"`
	ToolRSSPerSessionBytes   float64 `json:"tool_rss_per_session_bytes,omitempty"`

	Timeline    []Point                 `json:"timeline"`
	Percentiles map[string][]Percentile `json:"percentiles"`
}

func (r *Report) server(before, after serverSample) {
	r.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	r.ServerRSSBeforeBytes, r.ServerRSSBytes = before.RSSBytes, after.RSSBytes
	r.ServerSignedActs = after.signedOnServer() - before.signedOnServer()
	r.ServerMediaBytes = after.mediaBytes() - before.mediaBytes()
	r.ServerCommandP99Ms = bucketQuantile(before, after, "senim_command_duration_seconds", 0.99)
	r.ServerAppendP99Ms = bucketQuantile(before, after, "senim_eventlog_append_seconds", 0.99)
	r.ServerWALSyncP99Ms = bucketQuantile(before, after, "senim_store_wal_sync_seconds", 0.99)
}

func (r *Report) perAct() {
	if r.Seconds > 0 {
		r.ActsPerSecond = float64(r.ActsCompleted) / r.Seconds
	}
	if r.ActsCompleted > 0 {
		r.ServerCPUPerActMs = r.ServerCPUSeconds * 1000 / float64(r.ActsCompleted)
		r.ToolCPUPerActMs = r.ToolCPUSeconds * 1000 / float64(r.ActsCompleted)
		if r.MachineCPUSeconds > 0 {
			r.MachineLessToolPerActMs = (r.MachineCPUSeconds - r.ToolCPUSeconds) * 1000 / float64(r.ActsCompleted)
		}
	}
}

// WriteTable prints the final table for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tseen by\tcount\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, name := range stepNames(r.Steps) {
		s := r.Steps[name]
		by := "other"
		if !s.OtherParty {
			by = "self"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", name, by, s.Count, s.P50, s.P90, s.P99, s.P999, s.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch r.Scenario {
	case "active":
		fmt.Fprintf(w, "\nactive acts %d   %.1f steps/s (asked %.0f) over %.1f s   other-party p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms\n",
			r.ActiveActs, r.StepsPerSecond, r.StepsPerSecondTarget, r.Seconds, r.pctl("all_other_party", 50), r.OtherPartyP99, r.pctl("all_other_party", 99.9))
		fmt.Fprintf(w, "CPU per step: server %.2f ms, tool %.2f ms   server RSS %.1f → %.1f MiB\n",
			r.ServerCPUPerStepMs, r.ToolCPUPerStepMs, r.ServerRSSBeforeBytes/(1<<20), r.ServerRSSBytes/(1<<20))
	case "sessions":
		fmt.Fprintf(w, "\nsessions %d   server RSS %.1f → %.1f MiB   %.1f KiB per session   tool %.1f KiB per session\n",
			r.Sessions, r.ServerRSSBeforeBytes/(1<<20), r.ServerRSSBytes/(1<<20), r.ServerRSSPerSessionBytes/1024, r.ToolRSSPerSessionBytes/1024)
	default:
		fmt.Fprintf(w, "\nacts started %d  completed %d (signed %d, refused %d, cancelled %d)  failed %d  aborted %d\n",
			r.ActsStarted, r.ActsCompleted, r.ActsSigned, r.ActsRefused, r.ActsCancelled, r.ActsFailed, r.ActsAborted)
		fmt.Fprintf(w, "%.2f acts/s over %.1f s   other-party p99 %.1f ms   server signed %.0f\n", r.ActsPerSecond, r.Seconds, r.OtherPartyP99, r.ServerSignedActs)
		fmt.Fprintf(w, "CPU per act: server %.1f ms, tool %.1f ms   server RSS %.1f → %.1f MiB\n",
			r.ServerCPUPerActMs, r.ToolCPUPerActMs, r.ServerRSSBeforeBytes/(1<<20), r.ServerRSSBytes/(1<<20))
		if r.MachineLessToolPerActMs > 0 {
			fmt.Fprintf(w, "  the machine's CPU less the tool's: %.1f ms per act (the server with the kernel's work for it, and whatever else ran)\n",
				r.MachineLessToolPerActMs)
		}
		if r.FloorPerActMs > 0 {
			n := float64(r.ActsCompleted)
			fmt.Fprintf(w, "floor per act %.2f ms CPU (%.1f CMS verifies × %.3f ms + %.1f fsyncs × %.3f ms)   server CPU ÷ floor %.2f×\n",
				r.FloorPerActMs, float64(r.FloorCMSVerifies)/n, r.FloorVerifyMs, r.FloorFsyncs/n, r.FloorFsyncMs, r.ServerCPUOverFloor)
			fmt.Fprintf(w, "  with an fsync's wall time (median %.3f ms): floor %.2f ms, server CPU ÷ floor %.2f×\n",
				r.FloorFsyncWallMs, r.FloorWallPerActMs, r.ServerCPUOverWallFloor)
			if r.FloorFsyncAIO {
				fmt.Fprintf(w, "  the fsyncs through the kernel's asynchronous I/O, as the server's WAL: their kernel worker is in neither CPU\n")
			}
			if r.MachineLessToolOverFloor > 0 {
				fmt.Fprintf(w, "  with the kernel's work for each fsync (%.3f ms, made in the thread): floor %.2f ms, the machine's CPU less the tool's ÷ floor %.2f×\n",
					r.FloorFsyncWholeMs, r.FloorWholePerActMs, r.MachineLessToolOverFloor)
			}
		}
		if r.Media {
			fmt.Fprintf(w, "media: the SFU forwarded %.1f MiB\n", r.ServerMediaBytes/(1<<20))
		}
		if r.NotaryPacingSeconds >= 0.05 {
			fmt.Fprintf(w, "notaries waited %.1f s in all for the server's per-connection rate (inside the steps' latency; more --notaries avoid it)\n", r.NotaryPacingSeconds)
		}
	}
	if r.Scenario != "sessions" {
		fmt.Fprintf(w, "server's own p99 (histogram bounds): a command %.1f ms, of it the durable append %.1f ms; one sync of the WAL %.1f ms\n", r.ServerCommandP99Ms, r.ServerAppendP99Ms, r.ServerWALSyncP99Ms)
	}
	fmt.Fprintf(w, "CPU seconds: server %.2f, tool %.2f\n", r.ServerCPUSeconds, r.ToolCPUSeconds)
	if len(r.Errors) > 0 {
		codes := make([]string, 0, len(r.Errors))
		for c := range r.Errors {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		fmt.Fprint(w, "errors:")
		for _, c := range codes {
			fmt.Fprintf(w, " %s=%d", c, r.Errors[c])
		}
		fmt.Fprintln(w)
	}
	return nil
}

// WriteJSON writes the report as JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteCSV writes one row per step to path.
func (r *Report) WriteCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"step", "other_party", "count", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"})
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	for _, name := range stepNames(r.Steps) {
		s := r.Steps[name]
		_ = w.Write([]string{name, strconv.FormatBool(s.OtherParty), strconv.FormatInt(s.Count, 10), ff(s.P50), ff(s.P90), ff(s.P99), ff(s.P999), ff(s.Max)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pctl is the named distribution's value at percentile q, in ms (0 when
// not sampled).
func (r *Report) pctl(name string, q float64) float64 {
	for _, p := range r.Percentiles[name] {
		if p.Percentile == q {
			return p.Ms
		}
	}
	return 0
}
