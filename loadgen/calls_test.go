package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCallsCarryMediaAndReportCPUPerStream(t *testing.T) {
	srv, dir := startServer(t)
	o := DefaultCallsOptions()
	o.Addr, o.DataDir = srv.Addr(), dir
	o.Rooms, o.Duplex = 2, true
	o.Bitrate = 300_000
	o.Warmup, o.Window = time.Second, 2*time.Second
	var progress bytes.Buffer
	o.Progress = &progress
	rep, err := RunCalls(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Two rooms, both participants publishing: four video and four audio
	// streams forwarded, each of them carrying packets in the window.
	if rep.VideoStreams != 4 || rep.AudioStreams != 4 || rep.VideoPackets <= 0 || rep.AudioPackets <= 0 {
		t.Fatalf("streams or packets missing: %+v", rep)
	}
	if rep.VideoPPSMin <= 0 || rep.VideoPPSMax < rep.VideoPPSMin || rep.Seconds <= 0 {
		t.Errorf("packet rates: %+v", rep)
	}
	if rep.CPUSource != "metrics" || rep.ServerCPUSeconds <= 0 || rep.CPUPerStream <= 0 || rep.CPUPerPacket <= 0 || rep.CPUPerVideoPacket < rep.CPUPerPacket {
		t.Errorf("CPU figures: %+v", rep)
	}
	if rep.Lost < 0 || rep.LossRatio < 0 || rep.LossRatio > 1 {
		t.Errorf("loss: %+v", rep)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"streams forwarded", "server CPU per stream", "fan-out"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, table.String())
		}
	}
	if !strings.Contains(progress.String(), "measuring") {
		t.Errorf("progress: %q", progress.String())
	}
	path := filepath.Join(t.TempDir(), "calls.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	var j map[string]any
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rooms", "video_streams", "audio_streams", "video_packets", "lost_packets", "loss_ratio", "server_cpu_seconds", "cpu_ms_per_stream_second", "cpu_us_per_packet", "video_pps_mean"} {
		if _, ok := j[k]; !ok {
			t.Errorf("JSON lacks %s", k)
		}
	}
}

func TestCallsRefuseAFanOutTheCallCannotCarry(t *testing.T) {
	o := DefaultCallsOptions()
	o.Addr, o.DataDir, o.Subscribers = "127.0.0.1:1", t.TempDir(), 10
	_, err := RunCalls(context.Background(), o)
	var f *FatalError
	if !errors.As(err, &f) || f.Code != CodeBadOptions || !strings.Contains(err.Error(), "two participants") {
		t.Fatalf("got %v", err)
	}
}

func TestProcCPUReadsThisProcess(t *testing.T) {
	// Burn some CPU so the count is past a clock tick.
	end := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(end); x++ {
		_ = x * x
	}
	s, err := ProcCPU(os.Getpid())
	if err != nil || s <= 0 {
		t.Fatalf("ProcCPU: %v, %v", s, err)
	}
	if _, err := ProcCPU(-1); err == nil {
		t.Fatal("a process that does not exist has no CPU time")
	}
}
