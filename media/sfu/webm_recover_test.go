package sfu

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
)

// crashedPart runs a call's WebM muxer over 12 s of one party's audio and
// video (fed at once) and returns its .part as the disk holds it while the
// call goes on, cut in the middle of its last cluster: the file a kill -9
// leaves. The muxer is finished afterwards, in its own directory.
func crashedPart(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	m, err := newWebMMuxer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	audio := m.source("client:871008401427", "audio", Opus)
	video := m.source("client:871008401427", "video", VP8)
	t0 := time.Now()
	for i := 0; i < 600; i++ { // 20 ms of audio and, every other time, a video frame
		now := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		audio.packet(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(960 * i)}, Payload: bytes.Repeat([]byte{0xfc}, 80)}, now)
		if i%2 == 0 {
			frame := bytes.Repeat([]byte{0x01}, 700) // an inter frame
			if i%100 == 0 {
				frame[0] = 0x00 // a keyframe, 640×480, every 2 s
				copy(frame[3:], []byte{0x9d, 0x01, 0x2a})
				binary.LittleEndian.PutUint16(frame[6:], 640)
				binary.LittleEndian.PutUint16(frame[8:], 480)
			}
			video.packet(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: uint16(i / 2), Timestamp: uint32(1800 * i)},
				Payload: append([]byte{0x10}, frame...)}, now)
		}
	}
	var data []byte
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		data, err = os.ReadFile(m.path)
		if err != nil {
			return err
		}
		// Clusters of 2 s (a keyframe starts one), each 100 audio blocks of
		// 93 bytes and 50 video blocks of 713: the five before the muxer's
		// reorder window are on disk.
		if _, ok := readWebMHead(bytes.NewReader(data)); !ok || len(data) < webmReserved+5*(100*93+50*713) {
			return fmt.Errorf("the part holds %d bytes", len(data))
		}
		return nil
	})
	if _, err := m.finish(); err != nil {
		t.Fatal(err)
	}
	return data[:len(data)-500] // the last cluster reached the disk in part
}

// After a kill -9 mid-call the next start finds the call's WebM unfinished
// (call.webm.part, cut in a cluster): Salvage finishes it, lists it as the
// call's WebM, cut short, hashed as it now is, and a player reads it: the
// head names the tracks, the blocks are there up to the cut, in time, with
// Cues and a duration. A later start lists the same file again, still cut
// short (a listed file's frames are counted when it is finished alone).
func TestSalvageFinishesACrashedWebM(t *testing.T) {
	part := crashedPart(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, WebMFile+".part"), part, 0o600); err != nil {
		t.Fatal(err)
	}
	for start := 1; start <= 2; start++ {
		files, err := Salvage(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 1 || files[0].File != WebMFile || files[0].Codec != WebMCodec || !files[0].Cut || files[0].Participant != "client" {
			t.Fatalf("start %d: listed %+v, want the call's WebM, cut short", start, files)
		}
		data, err := os.ReadFile(filepath.Join(dir, WebMFile))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != files[0].SHA256 || int64(len(data)) != files[0].Bytes {
			t.Fatalf("start %d: the hash or size listed are not the file's", start)
		}
		if _, err := os.Stat(filepath.Join(dir, WebMFile+".part")); !os.IsNotExist(err) {
			t.Fatalf("the part is left: %v", err)
		}
		var f struct {
			Header  webm.EBMLHeader `ebml:"EBML"`
			Segment webm.Segment    `ebml:"Segment"`
		}
		if err := ebml.Unmarshal(bytes.NewReader(data), &f); err != nil {
			t.Fatalf("the finished WebM does not parse: %v", err)
		}
		seg := f.Segment
		codecs := map[uint64]string{}
		for _, e := range seg.Tracks.TrackEntry {
			codecs[e.TrackNumber] = e.CodecID
			if e.CodecID == "V_VP8" && (e.Video == nil || e.Video.PixelWidth != 640) {
				t.Errorf("video track %+v", e.Video)
			}
		}
		if len(codecs) != 2 {
			t.Fatalf("tracks %v", codecs)
		}
		blocks, last := map[string]int{}, int64(-1)
		for _, c := range seg.Cluster {
			for _, b := range c.SimpleBlock {
				blocks[codecs[b.TrackNumber]]++
				at := int64(c.Timecode) + int64(b.Timecode)
				if at < last {
					t.Fatalf("a block at %d ms after one at %d", at, last)
				}
				last = at
			}
		}
		// 12 s were fed; the muxer holds its last 1.5 s back, and the cut
		// takes a little more.
		if blocks["A_OPUS"] < 400 || blocks["V_VP8"] < 200 || (start == 1 && int64(blocks["A_OPUS"]+blocks["V_VP8"]) != files[0].Packets) {
			t.Fatalf("blocks %v, listed %d", blocks, files[0].Packets)
		}
		if seg.Cues == nil || len(seg.Cues.CuePoint) != len(seg.Cluster) || seg.Info.Duration < float64(last) || seg.Info.WritingApp != webmRecovered {
			t.Fatalf("cues %v for %d clusters, duration %v, last block %d, app %q", seg.Cues, len(seg.Cluster), seg.Info.Duration, last, seg.Info.WritingApp)
		}
		if files[0].Duration < last-1 || files[0].Duration > last+1 {
			t.Fatalf("listed %d ms, the last block at %d", files[0].Duration, last)
		}
	}
}

// A part no frame reached (its reserved head still zeros) holds nothing to
// finish: it is left as it is and not listed, and the track files are.
func TestSalvageLeavesAnEmptyWebMPart(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, WebMFile+".part"), make([]byte, webmReserved), 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err := newRecorder(dir, 1, "client:1", webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.finish(); err != nil {
		t.Fatal(err)
	}
	files, err := Salvage(dir)
	if err != nil || len(files) != 1 || files[0].Kind != "audio" {
		t.Fatalf("listed %+v, %v", files, err)
	}
	if _, err := os.Stat(filepath.Join(dir, WebMFile+".part")); err != nil {
		t.Fatalf("the part is gone: %v", err)
	}
}
