package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/at-wat/ebml-go/webm"

	"github.com/senim-kz/senim/domain/act"
)

// A package's manifest is untrusted: a recording named with a path that
// leaves the recordings directory is a failed item, never a file read (and
// passed) from elsewhere.
func TestVerifyRecordingsStaysInItsDirectory(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "recordings")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{filepath.Join(dir, "call-1"), outside} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte("not a recording")
	sum := sha256.Sum256(data)
	for _, p := range []string{filepath.Join(dir, "call-1", "a.ogg"), filepath.Join(outside, "a.ogg")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := act.RecordingFile{File: "a.ogg", SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(data))}
	m := Manifest{Recordings: []act.Recording{{ID: "call-1", Files: []act.RecordingFile{file}}, {ID: "../outside", Files: []act.RecordingFile{file}}}}
	raw, _ := json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(FileManifest)
	_, _ = w.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	items, err := VerifyRecordings(buf.Bytes(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || !items[0].OK || items[1].OK {
		t.Fatalf("items %+v: want call-1 to pass and ../outside to fail", items)
	}
}

// writeWebM makes a WebM of one VP8 and one Opus track, 2 s long, with
// ebml-go's own writer (not the SFU's).
func writeWebM(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := webm.NewSimpleBlockWriter(f, []webm.TrackEntry{
		{Name: "video", TrackNumber: 1, TrackUID: 1, CodecID: "V_VP8", TrackType: 1, Video: &webm.Video{PixelWidth: 640, PixelHeight: 480}},
		{Name: "audio", TrackNumber: 2, TrackUID: 2, CodecID: "A_OPUS", TrackType: 2, Audio: &webm.Audio{SamplingFrequency: 48000, Channels: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0x5a}, 300)
	for ms := int64(0); ms <= 2000; ms += 20 {
		if ms%40 == 0 {
			if _, err := ws[0].Write(ms%1000 == 0, ms, frame); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ws[1].Write(true, ms, frame[:80]); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ws {
		_ = w.Close()
	}
}

// `senim verify --recordings` checks the call's WebM: its hash as logged,
// and that it opens. A byte changed in its frames fails the hash; a byte
// changed in its head also fails to parse, and the item says both.
func TestVerifyRecordingsChecksTheWebM(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "call-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "call-1", "call.webm")
	writeWebM(t, path)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := CheckWebM(path)
	if err != nil || s.Video != 1 || s.Audio != 1 || s.Frames != 152 || s.LastMS != 2000 {
		t.Fatalf("CheckWebM: %+v %v", s, err)
	}
	verify := func(data []byte, logged []byte) Item {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(logged)
		file := act.RecordingFile{File: "call.webm", Kind: "video", Codec: WebMCodec, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(logged)), DurationMS: 2000}
		raw, _ := json.Marshal(Manifest{Recordings: []act.Recording{{ID: "call-1", Files: []act.RecordingFile{file}}}})
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create(FileManifest)
		_, _ = w.Write(raw)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		items, err := VerifyRecordings(buf.Bytes(), dir)
		if err != nil || len(items) != 1 {
			t.Fatalf("items %+v, %v", items, err)
		}
		return items[0]
	}
	if it := verify(good, good); !it.OK || !strings.Contains(it.Note, "WebM of 1 video and 1 audio tracks, 152 frames") {
		t.Fatalf("a good WebM: %+v", it)
	}
	// A byte of a frame: the hash fails; the file still parses.
	frames := append([]byte(nil), good...)
	frames[len(frames)-200] ^= 0x01
	if it := verify(frames, good); it.OK || !strings.Contains(it.Note, "SHA-256 or size differs from the log") || strings.Contains(it.Note, "does not open") {
		t.Fatalf("a changed frame: %+v", it)
	}
	// A byte of the EBML header: the hash fails, and it does not open.
	head := append([]byte(nil), good...)
	head[0] ^= 0x01
	if it := verify(head, good); it.OK || !strings.Contains(it.Note, "SHA-256 or size differs") || !strings.Contains(it.Note, "does not open") {
		t.Fatalf("a changed head: %+v", it)
	}
	// Logged as it is now, but cut short: the hash matches, it does not open.
	cut := good[:len(good)/2]
	if it := verify(cut, cut); it.OK || !strings.Contains(it.Note, "the hash is as logged, but the WebM does not open") {
		t.Fatalf("a WebM cut short: %+v", it)
	}
}
