package sfu_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
)

// A call whose recording reaches the room's cap: the room hears it once,
// the call goes on (each party keeps getting the other's audio and video),
// and when it ends every file of the recording, the call's WebM included,
// fits in the cap; the WebM still opens.
func TestRoomRecordingCapCountsEveryFile(t *testing.T) {
	dir := t.TempDir()
	const limit = 256 << 10
	var capped atomic.Int32
	c := newCall(t, newSFU(t, 10*time.Millisecond), "")
	c.room.Close() // replaced by a room that records under a cap
	c.room = newSFU(t, 10*time.Millisecond).NewRoom(sfu.RoomOptions{ID: "capped", RecordDir: dir,
		Budget: sfu.NewRecordBudget(limit, func() { capped.Add(1) }),
		Sink: func(id string, sig sfu.Signal) {
			c.mu.Lock()
			q := c.queue[id]
			c.mu.Unlock()
			if q != nil {
				q <- sig
			}
		}})
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if capped.Load() == 0 {
			return errors.New("the cap was not reached")
		}
		return nil
	})
	// The call goes on past the cap.
	v0, a0 := notary.ReceivedFrom(sfu.StreamID("client:871008401427"))
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if v, a := notary.ReceivedFrom(sfu.StreamID("client:871008401427")); v-v0 < 30 || a-a0 < 30 {
			return fmt.Errorf("since the cap: %d video, %d audio packets", v-v0, a-a0)
		}
		return nil
	})
	recs := c.room.Close()
	if capped.Load() != 1 {
		t.Fatalf("the room heard of the cap %d times", capped.Load())
	}
	var total int64
	webm := false
	for _, r := range recs {
		total += r.Bytes
		webm = webm || r.Codec == sfu.WebMCodec
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	for _, e := range entries {
		st, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		onDisk += st.Size()
	}
	if !webm || onDisk != total || total > limit {
		t.Fatalf("the recording's %d files (a WebM: %v) hold %d bytes (%d listed) under a cap of %d", len(recs), webm, onDisk, total, limit)
	}
	data, err := os.ReadFile(filepath.Join(dir, sfu.WebMFile))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Segment struct {
			Cluster []struct{} `ebml:"Cluster"`
		} `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(data), &f, ebml.WithIgnoreUnknown(true)); err != nil {
		t.Fatalf("the capped WebM does not open: %v", err)
	}
}
