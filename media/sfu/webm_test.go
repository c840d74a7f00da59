package sfu_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
)

// webmFile is a WebM as ebml-go reads it.
type webmFile struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment webm.Segment    `ebml:"Segment"`
}

// ParseWebM reads a whole WebM file with ebml-go's reader.
func parseWebM(t *testing.T, path string) webmFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f webmFile
	if err := ebml.Unmarshal(bytes.NewReader(data), &f); err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return f
}

// A call between two Go peers is one WebM besides the track files: it
// parses, has the VP8 and Opus track of each party, frames of each, blocks
// in time order across the tracks, cues, and lasts as long as the call. Its
// hash is the one the room reports, and no file name says who the client
// is.
func TestCallWebM(t *testing.T) {
	dir := t.TempDir()
	c := newCall(t, newSFU(t, 10*time.Millisecond), dir)
	notary := c.join("notary:aliya", webrtc.Configuration{})
	client := c.join("client:871008401427", webrtc.Configuration{})
	hears(t, client, "notary:aliya")
	hears(t, notary, "client:871008401427")
	// About two seconds more of call.
	testtool.Eventually(t, wait, 50*time.Millisecond, func() error {
		if v, _ := client.ReceivedFrom(sfu.StreamID("notary:aliya")); v < 150 {
			return fmt.Errorf("%d video packets", v)
		}
		return nil
	})
	recs := c.room.Close()

	var w *sfu.Recording
	var longest int64
	for i, r := range recs {
		if r.Codec == sfu.WebMCodec {
			w = &recs[i]
		} else if r.Duration > longest {
			longest = r.Duration
		}
	}
	if w == nil {
		t.Fatalf("no WebM among %+v", recs)
	}
	if w.File != sfu.WebMFile {
		t.Fatalf("WebM named %q", w.File)
	}
	path := filepath.Join(dir, w.File)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != w.SHA256 || int64(len(data)) != w.Bytes {
		t.Fatal("the WebM's hash or size differ from the recording's")
	}
	if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
		t.Fatalf("the unfinished name is left: %v", err)
	}

	f := parseWebM(t, path)
	if f.Header.DocType != "webm" {
		t.Fatalf("doc type %q", f.Header.DocType)
	}
	seg := f.Segment
	if seg.SeekHead == nil || seg.Cues == nil || len(seg.Cues.CuePoint) == 0 {
		t.Fatal("no SeekHead or no Cues: a browser could not seek")
	}
	codecs := map[string]int{}
	kinds := map[uint64]string{}
	for _, e := range seg.Tracks.TrackEntry {
		codecs[e.CodecID]++
		kinds[e.TrackNumber] = e.CodecID
		if e.CodecID == "V_VP8" && (e.Video == nil || e.Video.PixelWidth != 640 || e.Video.PixelHeight != 480) {
			t.Errorf("video track %d: %+v, want 640×480 from the keyframes", e.TrackNumber, e.Video)
		}
		if e.CodecID == "A_OPUS" && (e.Audio == nil || e.Audio.SamplingFrequency != 48000 || !bytes.HasPrefix(e.CodecPrivate, []byte("OpusHead"))) {
			t.Errorf("audio track %d: %+v", e.TrackNumber, e.Audio)
		}
	}
	if codecs["V_VP8"] != 2 || codecs["A_OPUS"] != 2 || len(kinds) != 4 {
		t.Fatalf("tracks %v, want two VP8 and two Opus", codecs)
	}
	blocks := map[uint64]int{}
	keyframes := 0
	last := int64(-1)
	outOfOrder := 0
	for _, cl := range seg.Cluster {
		for _, b := range cl.SimpleBlock {
			blocks[b.TrackNumber]++
			at := int64(cl.Timecode) + int64(b.Timecode)
			if at < last {
				outOfOrder++
			}
			last = at
			if kinds[b.TrackNumber] == "V_VP8" && b.Keyframe {
				keyframes++
			}
		}
	}
	for n, codec := range kinds {
		if blocks[n] < 20 {
			t.Errorf("track %d (%s): %d frames", n, codec, blocks[n])
		}
	}
	if keyframes < 2 || outOfOrder > 0 {
		t.Errorf("%d video keyframes, %d blocks out of order", keyframes, outOfOrder)
	}
	d := int64(seg.Info.Duration)
	if d < longest-500 || d > longest+500 || w.Duration < longest-500 {
		t.Errorf("WebM lasts %d ms (recording says %d), the longest track %d ms", d, w.Duration, longest)
	}
	if last > d {
		t.Errorf("a block at %d ms, past the duration %d", last, d)
	}
}
