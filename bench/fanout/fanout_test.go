package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/loadgen"
)

// startServer runs the harness's server in the test's process on a port of
// its own, recording into a temporary directory if record.
func startServer(t *testing.T, record bool) (addr, dataDir string, s *server) {
	t.Helper()
	cfg := config.Default()
	dataDir = t.TempDir()
	s, err := newServer(cfg, record, false, dataDir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.serve(l) }()
	t.Cleanup(func() { _ = l.Close(); s.close() })
	return l.Addr().String(), dataDir, s
}

// One publisher reaches every subscriber of its room through media/sfu,
// and the report counts each subscriber's stream; the room records.
func TestFanOutReachesEverySubscriber(t *testing.T) {
	addr, dataDir, _ := startServer(t, true)
	rep, err := runLoad(context.Background(), loadOptions{Addr: addr, Rooms: 2, Subscribers: 3, Bitrate: 300_000,
		Window: time.Second, Setup: 2, StepTimeout: 30 * time.Second, serverCPU: func() (float64, error) { return loadgen.ProcessCPU(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.VideoStreams != 6 || rep.AudioStreams != 6 || rep.Subscribers != 3 || rep.Rooms != 2 {
		t.Fatalf("streams: %d video, %d audio, want 6 and 6 (2 rooms of 1→3)", rep.VideoStreams, rep.AudioStreams)
	}
	if rep.VideoPackets == 0 || rep.AudioPackets == 0 || rep.CPUPerPacket <= 0 {
		t.Fatalf("report: %+v", rep)
	}
	// The rooms closed with their last participant: their recordings are
	// on disk, one directory per room.
	testtool.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		rooms, err := os.ReadDir(filepath.Join(dataDir, "recordings"))
		if err != nil {
			return err
		}
		if len(rooms) != 2 {
			return fmt.Errorf("%d rooms recorded, want 2", len(rooms))
		}
		for _, r := range rooms {
			files, _ := filepath.Glob(filepath.Join(dataDir, "recordings", r.Name(), "*.ivf"))
			if len(files) == 0 {
				return fmt.Errorf("no video file in %s", r.Name())
			}
		}
		return nil
	})
}

// Hostile signaling gets its error line, and the connection closes.
func TestSignalingRefusesBadInput(t *testing.T) {
	addr, _, _ := startServer(t, false)
	for _, tc := range []struct{ lines, code string }{
		{"not json\n", codeBadHello},
		{`{"room":"../x","id":"a"}` + "\n", codeBadHello},
		{`{"room":"r","id":""}` + "\n", codeBadHello},
		{`{"room":"r","id":"` + strings.Repeat("a", 65) + `"}` + "\n", codeBadHello},
		{`{"room":"r","id":"a"}` + "\n" + `{"kind":"offer","sdp":"x"}` + "\n", codeBadMessage},
		{`{"room":"r2","id":"a"}` + "\n" + `{"kind":"answer","sdp":"x"}` + "\n", codeBadSignal},
		{`{"room":"r3","id":"a"}` + "\n" + "{\n", codeBadMessage},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte(tc.lines)); err != nil {
			t.Fatal(err)
		}
		got := ""
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, maxLine)
		for sc.Scan() {
			var m message
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Code != "" {
				got = m.Code
				break
			}
		}
		_ = c.Close()
		if got != tc.code {
			t.Errorf("%q: code %q, want %q", tc.lines, got, tc.code)
		}
	}
}
