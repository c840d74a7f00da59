package actors

import (
	"bytes"
	"context"
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
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/evidence"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// crashedWebMPart is a call's WebM as a server killed mid-call leaves it:
// the muxer's provisional head (the EBML header, a Segment of unknown
// size, Info and Tracks, a Void to 4096 bytes), then a cluster of unknown
// size with 50 blocks of Opus, 20 ms apart, the last one cut in half.
func crashedWebMPart(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ebml.Marshal(&struct {
		Header webm.EBMLHeader `ebml:"EBML"`
	}{*webm.DefaultEBMLHeader}, &b); err != nil {
		t.Fatal(err)
	}
	unknown := []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	b.Write(append([]byte{0x18, 0x53, 0x80, 0x67}, unknown...)) // Segment
	if err := ebml.Marshal(&struct {
		Info   webm.Info   `ebml:"Info"`
		Tracks webm.Tracks `ebml:"Tracks"`
	}{webm.Info{TimecodeScale: 1_000_000, MuxingApp: "senim", WritingApp: "senim"},
		webm.Tracks{TrackEntry: []webm.TrackEntry{{Name: "client audio", TrackNumber: 1, TrackUID: 1, CodecID: "A_OPUS", TrackType: 2,
			Audio: &webm.Audio{SamplingFrequency: 48000, Channels: 2}}}}}, &b); err != nil {
		t.Fatal(err)
	}
	void := make([]byte, 4096-b.Len())
	void[0] = 0xEC
	binary.BigEndian.PutUint64(void[1:], uint64(len(void)-9))
	void[1] = 0x01
	b.Write(void)
	b.Write(append([]byte{0x1F, 0x43, 0xB6, 0x75}, unknown...)) // Cluster
	b.Write([]byte{0xE7, 0x81, 0x00})                           // Timecode 0
	for i := 0; i < 50; i++ {
		block := []byte{0xA3, 0x80 | 84, 0x81, 0, 0, 0x80} // SimpleBlock, track 1, a keyframe
		binary.BigEndian.PutUint16(block[3:], uint16(20*i))
		b.Write(append(block, bytes.Repeat([]byte{0xfc}, 80)...))
	}
	return b.Bytes()[:b.Len()-40]
}

// After a kill -9 mid-call, the next start finishes the call's WebM the
// server left unfinished and names it to the act with the other files: the
// act's recording lists call.webm, cut short, with the SHA-256 of the file
// as it now is, and a player reads it.
func TestSalvageNamesACrashedWebMToTheAct(t *testing.T) {
	dir := t.TempDir()
	l, err := eventlog.Open(filepath.Join(dir, "log"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	const id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	client := act.Actor{Role: act.RoleClient, ID: "871008401427", IIN: "871008401427"}
	sys := act.Actor{Role: act.RoleSystem}.String()
	for _, req := range []eventlog.AppendRequest{
		{Events: []eventlog.Draft{draft(t, client.String(), act.ApplicationSubmitted{ActID: id, Principal: act.Party{IIN: client.IIN}})}},
		{ExpectedSeq: 1, CommandID: startIDPrefix + "call-1", CommandActor: sys, Events: []eventlog.Draft{draft(t, sys, act.RecordingStarted{Recording: "call-1", At: time.Now()})}},
	} {
		req.Stream = StreamOf(id)
		if _, err := l.Append(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	recDir := filepath.Join(dir, "recordings")
	callDir := filepath.Join(recDir, id, "call-1")
	if err := os.MkdirAll(callDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(callDir, sfu.WebMFile+".part"), crashedWebMPart(t), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sfu.New(sfu.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	system, err := Start(Deps{Log: l, Rules: act.DefaultRules(), Logger: zerolog.Nop(), Media: Media{SFU: s, RecordDir: recDir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(system.Stop)
	var files []act.RecordingFile
	testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
		st, err := ReplayStream(l, StreamOf(id))
		if err != nil {
			return err
		}
		r := st.Recording("call-1")
		if r == nil || r.FinishedAt.IsZero() {
			return fmt.Errorf("recording %+v", r)
		}
		files = r.Files
		return nil
	})
	if len(files) != 1 || files[0].File != sfu.WebMFile || files[0].Codec != sfu.WebMCodec || !files[0].Cut {
		t.Fatalf("the act lists %+v, want the call's WebM, cut short", files)
	}
	data, err := os.ReadFile(filepath.Join(callDir, sfu.WebMFile))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != files[0].SHA256 || files[0].Bytes != int64(len(data)) {
		t.Fatal("the act's hash is not the file's")
	}
	var f struct {
		Segment webm.Segment `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(bytes.NewReader(data), &f, ebml.WithIgnoreUnknown(true)); err != nil {
		t.Fatalf("the WebM does not parse: %v", err)
	}
	if len(f.Segment.Cluster) != 1 || len(f.Segment.Cluster[0].SimpleBlock) != 49 || files[0].DurationMS != 960 {
		t.Fatalf("%d clusters, duration %d ms", len(f.Segment.Cluster), files[0].DurationMS)
	}
	// senim verify --recordings opens it as it does any call's WebM.
	if w, err := evidence.CheckWebM(filepath.Join(callDir, sfu.WebMFile)); err != nil || w.Frames != 49 || w.Audio != 1 {
		t.Fatalf("the evidence check: %+v %v", w, err)
	}
}
