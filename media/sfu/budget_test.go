package sfu

import (
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Past the budget a room's recorders stop writing, together, and the room
// hears it once; the files end where they were.
func TestRecordBudgetStopsRecording(t *testing.T) {
	dir := t.TempDir()
	capped := 0
	b := NewRecordBudget(1000, func() { capped++ })
	codec := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}
	var recs []*recorder
	for n, who := range []string{"client:1", "notary:a"} {
		r, err := newRecorder(dir, n+1, who, codec, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.budget = b
		recs = append(recs, r)
	}
	for i := 0; i < 20; i++ { // 20 × 2 × 100-byte packets: four times the budget
		for _, r := range recs {
			raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, Payload: make([]byte, 88)}).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			r.add(raw, time.Now()) // 100 bytes: a 12-byte header and 88 of payload
		}
	}
	if capped != 1 || !b.Spent() {
		t.Fatalf("capped %d times, spent %v", capped, b.Spent())
	}
	var packets int64
	for _, r := range recs {
		done, err := r.finish()
		if err != nil {
			t.Fatal(err)
		}
		packets += done.Packets
		if st, err := os.Stat(r.path); err != nil || st.Size() != done.Bytes {
			t.Fatalf("file %v %v", st, err)
		}
	}
	if packets != 10 { // 1000 bytes of 100-byte packets
		t.Fatalf("%d packets recorded, want 10", packets)
	}
}
