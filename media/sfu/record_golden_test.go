package sfu

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// goldenVP8 is a VP8 stream as a bad network delivers it: inter frames
// before the first keyframe, frames of one to six packets, packets lost
// (a frame's first, a middle one, a marker), packets swapped within a
// frame and across two frames, a packet repeated, a later partition
// (S=1, PID 1), empty payloads, a long gap of inter frames until the next
// keyframe, and timestamps that wrap. Each packet comes with when it
// arrived, on a clock of its own (base plus ms).
func goldenVP8() (raw [][]byte, at []time.Duration) {
	rnd := rand.New(rand.NewPCG(14, 1))
	seq, ts := uint16(65500), uint32(4294967295-30*3000)
	var frames [][]*rtp.Packet
	for f := 0; f < 400; f++ {
		key := f == 3 || f == 200 || f == 330 // 200..329 follows a keyframe gap (below)
		parts := 1 + rnd.IntN(6)
		var fr []*rtp.Packet
		for i := 0; i < parts; i++ {
			n := 1 + 200 + rnd.IntN(1000)
			payload := make([]byte, n)
			for j := range payload {
				payload[j] = byte(rnd.Uint32())
			}
			payload[0] = 0
			if i == 0 {
				payload[0] = 0x10
				if key {
					payload[1] &^= 0x01
					copy(payload[4:], []byte{0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}) // 640×480
				} else {
					payload[1] |= 0x01
				}
			} else if rnd.IntN(40) == 0 {
				payload[0] = 0x11 // S=1 of partition 1
			}
			fr = append(fr, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts,
				Marker: i == parts-1, SSRC: 5}, Payload: payload})
			seq++
		}
		ts += 3000
		frames = append(frames, fr)
	}
	var out []*rtp.Packet
	for f, fr := range frames {
		switch {
		case f == 10: // the first packet lost
			fr = fr[1:]
		case f == 20 && len(fr) > 2: // a middle packet lost
			fr = append(fr[:1:1], fr[2:]...)
		case f == 30 || f == 120: // the marker lost
			fr = fr[:len(fr)-1]
		case f == 40 && len(fr) > 1: // swapped within the frame
			fr = append([]*rtp.Packet{fr[1], fr[0]}, fr[2:]...)
		case f == 50: // a packet repeated
			fr = append(fr, fr[len(fr)-1])
		case f == 60: // an empty payload between frames
			out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: fr[0].Timestamp, SSRC: 5}})
		case f == 150: // a whole frame lost, then the next keyframe is far
			fr = nil
		case f > 150 && f < 200 && f%7 == 0:
			fr = fr[1:] // more starts lost in the gap
		}
		if f == 71 && len(out) > 0 && len(fr) > 0 { // the last packet of frame 70 after frame 71's first
			last := out[len(out)-1]
			out = append(out[:len(out)-1], fr[0], last)
			fr = fr[1:]
		}
		out = append(out, fr...)
	}
	base := time.Duration(0)
	for i, p := range out {
		b, err := p.Marshal()
		if err != nil {
			panic(err)
		}
		raw = append(raw, b)
		base += time.Duration(4+i%9) * time.Millisecond
		at = append(at, base)
	}
	return raw, at
}

// goldenOpus is Opus with losses, a packet swapped with the next, a
// repeat, empty payloads and frames of 10, 20 and 60 ms (code 3, three
// frames).
func goldenOpus() (raw [][]byte, at []time.Duration) {
	rnd := rand.New(rand.NewPCG(14, 2))
	seq, ts := uint16(65000), uint32(4294967295-50*960)
	var pkts []*rtp.Packet
	for i := 0; i < 600; i++ {
		n := 40 + rnd.IntN(200)
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(rnd.Uint32())
		}
		switch {
		case i%50 == 7:
			payload[0] = 0x78 // 10 ms
		case i%50 == 9:
			payload[0], payload[1] = 0xfb, 0x03 // code 3, three 20 ms frames
		default:
			payload[0] = 0xfc // 20 ms
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq, Timestamp: ts, SSRC: 7}, Payload: payload}
		seq++
		ts += 960
		switch {
		case i%97 == 5: // lost
			continue
		case i%131 == 3:
			p.Payload = nil
		}
		pkts = append(pkts, p)
		if i%113 == 1 {
			pkts = append(pkts, p) // repeated
		}
	}
	for i := 11; i+1 < len(pkts); i += 89 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	base := 3 * time.Millisecond
	for i, p := range pkts {
		b, err := p.Marshal()
		if err != nil {
			panic(err)
		}
		raw = append(raw, b)
		base += time.Duration(15+i%11) * time.Millisecond
		at = append(at, base)
	}
	return raw, at
}

// recordGolden records the golden streams through two recorders (no
// writer goroutine: their writes run here, in order) feeding one call's
// WebM whose clock starts at t0, and returns the directory and the two
// track files' names.
func recordGolden(t *testing.T) (dir string, video, audio Recording, webm *Recording) {
	t.Helper()
	dir = t.TempDir()
	mux := &callWebM{}
	vr, err := openRecorder(dir, 1, "client:1", VP8, mux, nil)
	if err != nil {
		t.Fatal(err)
	}
	ar, err := openRecorder(dir, 2, "client:1", Opus, mux, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	mux.m.t0 = t0 // before any frame: the muxer reads it only after one
	vraw, vat := goldenVP8()
	araw, aat := goldenOpus()
	for i, j := 0, 0; i < len(vraw) || j < len(araw); {
		if j == len(araw) || (i < len(vraw) && vat[i] <= aat[j]) {
			vr.write(vraw[i], t0.Add(vat[i]))
			i++
		} else {
			ar.write(araw[j], t0.Add(aat[j]))
			j++
		}
	}
	for _, r := range []*recorder{vr, ar} {
		go r.run()
	}
	if video, err = vr.finish(); err != nil {
		t.Fatal(err)
	}
	if audio, err = ar.finish(); err != nil {
		t.Fatal(err)
	}
	if webm, err = mux.finish(); err != nil || webm == nil {
		t.Fatal(webm, err)
	}
	return dir, video, audio, webm
}

// The golden hashes: the call's WebM and the track's IVF that main
// (e2dc704, before the IVF writer wrote into its own buffer and the WebM
// took its frames) made of the golden streams.
const (
	goldenIVFSHA256  = "fa1bdf5c512625363758b0810af08ab2351b950d9dcb6a011540279ae4afe20a"
	goldenWebMSHA256 = "c219cd15f98be60ab38ec009eeb01d38ed2f6ec8b9cbb2b71165a08a223297f7"
)

// A recording's files are byte for byte what they were before the
// recording got cheaper (the SHA-256 of each is in the act's log): the
// IVF and the call's WebM against the hashes main made of the same
// streams, the IVF and the Ogg against pion's writers too (the Ogg's
// serial number is random: pion's is given the one the recording chose).
func TestRecordingFilesUnchanged(t *testing.T) {
	dir, video, audio, webm := recordGolden(t)
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if video.SHA256 != goldenIVFSHA256 || webm.SHA256 != goldenWebMSHA256 {
		t.Errorf("IVF %s (%d bytes), WebM %s (%d bytes, %d frames): not main's", video.SHA256, video.Bytes, webm.SHA256, webm.Bytes, webm.Packets)
	}

	// The IVF: pion's writer, each packet in turn.
	var ref bytes.Buffer
	iw, err := ivfwriter.NewWith(&ref, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	if err != nil {
		t.Fatal(err)
	}
	vraw, _ := goldenVP8()
	for _, b := range vraw {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if err := iw.WriteRTP(&p); err != nil {
			t.Fatal(err)
		}
	}
	// pion's writer cannot seek a bytes.Buffer: the frame count is put
	// in as it would have.
	want := ref.Bytes()
	have := read(video.File)
	binary.LittleEndian.PutUint32(want[ivfFrameCount:], binary.LittleEndian.Uint32(have[ivfFrameCount:]))
	if len(want) < 100_000 || !bytes.Equal(have, want) {
		t.Errorf("IVF: %d bytes recorded, pion's writer %d, or they differ", len(have), len(want))
	}

	// The Ogg: pion's writer with the serial the recording chose.
	have = read(audio.File)
	serial := binary.LittleEndian.Uint32(have[14:])
	ref.Reset()
	ow, err := oggwriter.NewWriter(&ref)
	if err != nil {
		t.Fatal(err)
	}
	track, err := ow.NewTrack(7, oggwriter.WithSerial(serial), oggwriter.WithSampleRate(Opus.ClockRate), oggwriter.WithChannelCount(Opus.Channels))
	if err != nil {
		t.Fatal(err)
	}
	araw, _ := goldenOpus()
	for _, b := range araw {
		var p rtp.Packet
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if err := track.WriteRTP(&p); err != nil {
			t.Fatal(err)
		}
	}
	// Writer.Close would add an end-of-stream page the single-track
	// writer does not: the file is compared without it.
	want = ref.Bytes()
	if len(want) < 50_000 || !bytes.Equal(have, want) {
		t.Errorf("Ogg: %d bytes recorded, pion's writer %d, or they differ", len(have), len(want))
	}
}
