package sfu

import (
	"io"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/senim-kz/senim/internal/testtool"
)

// Writing a recorded Opus stream allocates nothing, where pion's writer
// allocates each page anew (more than one allocation a packet).
func TestOggWriterAllocations(t *testing.T) {
	if testtool.Race {
		t.Skip("the race detector changes what allocates")
	}
	raw, _ := goldenOpus()
	stream := make([]*rtp.Packet, len(raw))
	for i, b := range raw {
		stream[i] = new(rtp.Packet)
		if err := stream[i].Unmarshal(b); err != nil {
			t.Fatal(err)
		}
	}
	w, err := newOggWriter(io.Discard, Opus.ClockRate, Opus.Channels)
	if err != nil {
		t.Fatal(err)
	}
	pion, err := oggwriter.NewWith(io.Discard, Opus.ClockRate, Opus.Channels)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stream { // the scratch buffer grows to a page once
		_ = w.WriteRTP(p)
	}
	for name, w := range map[string]mediaWriter{"senim": w, "pion": pion} {
		// AllocsPerRun rounds down: each run writes the whole stream.
		n := testing.AllocsPerRun(5, func() {
			for _, p := range stream {
				if err := w.WriteRTP(p); err != nil {
					t.Fatal(err)
				}
			}
		})
		if name == "senim" && n != 0 {
			t.Errorf("%v allocations per %d packets", n, len(stream))
		}
		if name == "pion" && n < float64(len(stream)) {
			t.Errorf("pion's writer: %v allocations per %d packets, expected one a packet or more", n, len(stream))
		}
	}
}

// A packet that is not Opus (a TOC that says more than 120 ms, or code 3
// with no frame count) is an error for both writers, and an empty payload
// is left out by both.
func TestOggWriterBadPackets(t *testing.T) {
	w, _ := newOggWriter(io.Discard, Opus.ClockRate, Opus.Channels)
	pion, _ := oggwriter.NewWith(io.Discard, Opus.ClockRate, Opus.Channels)
	for _, payload := range [][]byte{{0x03}, {0x1b, 0x00}, {0x1b, 0x03}, {0xfb, 0x3f}, {0x18, 0x00}, nil, {0x78}} {
		p := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: payload}
		if a, b := w.WriteRTP(p), pion.WriteRTP(p); (a == nil) != (b == nil) {
			t.Errorf("payload %x: Senim's writer says %v, pion's %v", payload, a, b)
		}
	}
	if _, err := newOggWriter(io.Discard, 48000, 3); err == nil {
		t.Error("three channels: no error")
	}
}
