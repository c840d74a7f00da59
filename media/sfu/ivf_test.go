package sfu

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"

	"github.com/senim-kz/senim/internal/testtool"
)

// vp8Stream is a VP8 stream as a recording meets it: inter frames before
// the first keyframe, frames of several packets, a frame whose first
// packet was lost, an empty payload, timestamps that wrap.
func vp8Stream() []*rtp.Packet {
	var out []*rtp.Packet
	seq, ts := uint16(65000), uint32(4294900000)
	frame := func(key bool, parts int, dropFirst bool) {
		for i := 0; i < parts; i++ {
			payload := make([]byte, 1+300+i)
			for j := range payload {
				payload[j] = byte(int(seq) + j)
			}
			payload[0] = 0
			if i == 0 {
				payload[0] = 0x10 // S: the start of the frame
				if key {
					payload[1] &^= 0x01
				} else {
					payload[1] |= 0x01
				}
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, Marker: i == parts-1, SSRC: 5}, Payload: payload}
			seq++
			if i == 0 && dropFirst {
				continue
			}
			out = append(out, p)
		}
		ts += 3000
	}
	frame(false, 2, false) // before any keyframe
	frame(true, 4, false)
	frame(false, 3, false)
	out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts}})
	frame(false, 3, true) // its start lost
	for i := 0; i < 40; i++ {
		frame(i%17 == 0, 1+i%5, false)
	}
	return out
}

// Senim's IVF writer makes the file pion's does, byte for byte.
func TestIVFWriterIsPions(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, open func(io.Writer) (mediaWriter, error)) []byte {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		w, err := open(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range vp8Stream() {
			if err := w.WriteRTP(p); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := write("pion.ivf", func(w io.Writer) (mediaWriter, error) {
		return ivfwriter.NewWith(w, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	})
	got := write("senim.ivf", func(w io.Writer) (mediaWriter, error) { return newIVFWriter(w) })
	if len(want) < 10_000 || !bytes.Equal(got, want) {
		t.Fatalf("senim's file %d bytes, pion's %d, or they differ", len(got), len(want))
	}

	// A payload too short for a VP8 descriptor is an error for both.
	short := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: []byte{0x90}}
	pw, _ := ivfwriter.NewWith(io.Discard, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	sw, _ := newIVFWriter(io.Discard)
	if (pw.WriteRTP(short) == nil) != (sw.WriteRTP(short) == nil) {
		t.Fatal("a short payload: the writers disagree")
	}
}

// Writing a recorded VP8 stream allocates nothing.
func TestIVFWriterAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	w, err := newIVFWriter(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stream := vp8Stream()
	for _, p := range stream { // the frame buffer grows to its size once
		_ = w.WriteRTP(p)
	}
	// AllocsPerRun rounds down: each run writes the whole stream.
	if n := testing.AllocsPerRun(10, func() {
		for _, p := range stream {
			_ = w.WriteRTP(p)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per %d packets", n, len(stream))
	}
}

// A VP8 payload that is a descriptor and nothing after it (a publisher
// can send one) is left out of the IVF, not read past: the frame around
// it is written as if it had not come, and the WebM drops that frame as
// one with a packet missing.
func TestIVFDescriptorAlone(t *testing.T) {
	var file bytes.Buffer
	w, err := newIVFWriter(&file)
	if err != nil {
		t.Fatal(err)
	}
	stream := vp8Stream()
	// Into a keyframe of four packets (the second frame), after its first.
	i := 3
	alone := &rtp.Packet{Header: stream[i].Header, Payload: []byte{0x10}}
	alone.Marker = false
	for j, p := range stream {
		if j == i {
			if err := w.WriteRTP(alone); err != nil || w.took {
				t.Fatalf("a descriptor alone: taken %v, %v", w.took, err)
			}
		}
		if err := w.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.out.Flush(); err != nil {
		t.Fatal(err)
	}
	var ref bytes.Buffer
	pw, _ := ivfwriter.NewWith(&ref, ivfwriter.WithCodec(webrtc.MimeTypeVP8))
	for _, p := range stream {
		if err := pw.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(file.Bytes(), ref.Bytes()) {
		t.Fatalf("%d bytes, without the descriptor %d, or they differ", file.Len(), ref.Len())
	}
}

// A frame whose marker never comes is not held past maxVP8Frame: it is
// dropped (as the WebM drops it), and the next frame is recorded.
func TestIVFFrameIsBounded(t *testing.T) {
	var file bytes.Buffer
	w, err := newIVFWriter(&file)
	if err != nil {
		t.Fatal(err)
	}
	// A keyframe's first packet (VP8 descriptor: S=1, partition 0; the
	// payload header's low bit 0: a keyframe), then 1 KB pieces without
	// a marker, well past the bound.
	first := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 3000}, Payload: append([]byte{0x10, 0x00}, make([]byte, 1000)...)}
	if err := w.WriteRTP(first); err != nil {
		t.Fatal(err)
	}
	piece := &rtp.Packet{Header: rtp.Header{Version: 2, Timestamp: 3000}, Payload: append([]byte{0x00}, make([]byte, 1024)...)}
	most := 0
	for n := range maxVP8Frame/1024 + 64 {
		piece.SequenceNumber = uint16(2 + n)
		if err := w.WriteRTP(piece); err != nil {
			t.Fatal(err)
		}
		most = max(most, len(w.out.open()))
	}
	if most > maxVP8Frame+ivfFrameHeader {
		t.Fatalf("an unfinished frame held %d bytes in memory (bound %d)", most, maxVP8Frame)
	}
	next := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 9000, Timestamp: 6000, Marker: true}, Payload: []byte{0x10, 0x00, 1, 2, 3}}
	if err := w.WriteRTP(next); err != nil {
		t.Fatal(err)
	}
	if w.count != 1 || !w.ended || len(w.last) != 4 {
		t.Fatalf("the next frame: %d frames, ended %v, %d bytes", w.count, w.ended, len(w.last))
	}
}
