package sfu

import (
	"bytes"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// budgetCall records two parties' audio, n packets each, into dir (and the
// call's WebM if webm), under budget; it returns what the recorders and the
// WebM report.
func budgetCall(t *testing.T, dir string, n int, budget *RecordBudget, withWebM bool) []Recording {
	t.Helper()
	codec := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}
	var mux *callWebM
	if withWebM {
		mux = &callWebM{budget: budget}
	}
	var recs []*recorder
	for i, who := range []string{"client:1", "notary:a"} {
		r, err := newBudgetedRecorder(dir, i+1, who, codec, mux, budget)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		for _, r := range recs {
			raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, Payload: make([]byte, 88)}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			r.add(raw, t0.Add(time.Duration(i)*20*time.Millisecond)) // 100 bytes: a 12-byte header and 88 of payload
		}
	}
	var out []Recording
	for _, r := range recs {
		done, err := r.finish()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, done)
	}
	if mux != nil {
		w, err := mux.finish()
		if err != nil {
			t.Fatal(err)
		}
		if w != nil {
			out = append(out, *w)
		}
	}
	return out
}

// dirBytes is what the files of a directory hold together.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		st, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// Past the budget a room's recorders stop writing, together, and the room
// hears it once; the files end where they were, within the budget.
func TestRecordBudgetStopsRecording(t *testing.T) {
	dir := t.TempDir()
	var capped atomic.Int32
	b := NewRecordBudget(2000, func() { capped.Add(1) })
	recs := budgetCall(t, dir, 40, b, false) // 40 × 2 packets of 116 bytes in Ogg: four times the budget
	if capped.Load() != 1 || !b.Spent() {
		t.Fatalf("capped %d times, spent %v", capped.Load(), b.Spent())
	}
	var packets int64
	for _, r := range recs {
		packets += r.Packets
		if st, err := os.Stat(filepath.Join(dir, r.File)); err != nil || st.Size() != r.Bytes {
			t.Fatalf("file %v %v", st, err)
		}
	}
	if packets == 0 || packets >= 80 {
		t.Fatalf("%d packets recorded of 80", packets)
	}
	if n := dirBytes(t, dir); n > 2000 || n < 1500 {
		t.Fatalf("the files hold %d bytes under a budget of 2000", n)
	}
}

// The call's WebM counts too: a cap the track files alone stay under, but
// the track files and the WebM together pass, stops the recording, with
// every file of the call, the WebM's head and index included, within the
// cap; the WebM still ends as a file a player reads.
func TestRecordBudgetCountsTheWebM(t *testing.T) {
	const n = 100
	free := budgetCall(t, t.TempDir(), n, nil, true)
	var tracks, whole int64
	for _, r := range free {
		if r.Codec == WebMCodec {
			whole = r.Bytes
		} else {
			tracks += r.Bytes
		}
	}
	if whole == 0 {
		t.Fatalf("no WebM: %+v", free)
	}
	for _, c := range []struct {
		name  string
		limit int64
	}{
		{"over the track files, under them with the WebM", tracks + whole/2},
		{"under what the WebM alone holds", whole - 1},
	} {
		t.Run(c.name, func(t *testing.T) { cappedWithWebM(t, n, c.limit, tracks, whole) })
	}
}

// cappedWithWebM records n packets a party under a cap of limit, with the
// call's WebM, and checks the cap held: the WebM still parses, with its
// Cues if it has frames.
func cappedWithWebM(t *testing.T, n int, limit, tracks, whole int64) {
	dir := t.TempDir()
	var capped atomic.Int32
	b := NewRecordBudget(limit, func() { capped.Add(1) })
	recs := budgetCall(t, dir, n, b, true)
	if capped.Load() != 1 || !b.Spent() {
		t.Fatalf("a cap of %d bytes (the track files take %d, the WebM %d more) was not reached: capped %d times", limit, tracks, whole, capped.Load())
	}
	if got := dirBytes(t, dir); got > limit {
		t.Fatalf("the call's files hold %d bytes under a cap of %d", got, limit)
	}
	var w *Recording
	var packets int64
	for i, r := range recs {
		if r.Codec == WebMCodec {
			w = &recs[i]
		}
		packets += r.Packets
	}
	// Which file the cap cuts first depends on how the writers' goroutines
	// meet (the WebM lags the track files by its reorder window); that
	// something was cut does not.
	if w == nil || packets >= int64(4*n) {
		t.Fatalf("%d packets and frames recorded of %d, the WebM %+v", packets, 4*n, w)
	}
	data, err := os.ReadFile(filepath.Join(dir, WebMFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(data), &f); err != nil {
		t.Fatalf("the capped WebM does not parse: %v", err)
	}
	blocks := 0
	for _, c := range f.Segment.Cluster {
		blocks += len(c.SimpleBlock)
	}
	if int64(blocks) != w.Packets || (blocks > 0) != (f.Segment.Cues != nil) {
		t.Fatalf("the WebM holds %d blocks (it says %d), cues %v", blocks, w.Packets, f.Segment.Cues != nil)
	}
}
