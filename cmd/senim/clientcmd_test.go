package main

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/senim-kz/senim/transport/protocol"
)

// runPrinter starts a push printer over fresh channels and returns them,
// its output, a count of lost connections, and a channel closed when it
// returns.
func runPrinter() (*pushPrinter, chan protocol.Envelope, chan protocol.Envelope, *strings.Builder, *atomic.Int32, chan struct{}) {
	var out strings.Builder
	var lost atomic.Int32
	p := &pushPrinter{out: &out, lost: func() { lost.Add(1) }}
	events, offers := make(chan protocol.Envelope), make(chan protocol.Envelope)
	done := make(chan struct{})
	go func() { p.run(events, offers); close(done) }()
	return p, events, offers, &out, &lost, done
}

// A quit closes the connection; the printer must not take that for a
// lost connection (it used to print "connection closed" and exit 1).
func TestPushPrinterQuitIsNotLost(t *testing.T) {
	p, events, offers, out, lost, done := runPrinter()
	events <- protocol.Envelope{Act: "A1", Seq: 3, Name: "draft_presented", Actor: "notary:aliya"}
	p.quit()
	close(events)
	close(offers)
	<-done
	if lost.Load() != 0 || strings.Contains(out.String(), "connection closed") {
		t.Fatalf("a quit was taken for a lost connection: lost %d, output %q", lost.Load(), out.String())
	}
	if !strings.Contains(out.String(), "<- event A1 #3 draft_presented") {
		t.Fatalf("the event before the quit was not printed: %q", out.String())
	}
}

// A connection the server drops ends the program, whichever of the two
// channels the printer finds closed first.
func TestPushPrinterLostConnection(t *testing.T) {
	_, events, offers, out, lost, done := runPrinter()
	close(events)
	<-done
	// run returns after lost (the real one exits), so done orders the
	// reads below after its writes.
	if lost.Load() != 1 || !strings.Contains(out.String(), "connection closed") {
		t.Fatalf("events closed: lost %d, output %q", lost.Load(), out.String())
	}
	close(offers)

	// Offers closed first: the printer keeps printing events, and reports
	// the loss when they close too.
	_, events, offers, out, lost, done = runPrinter()
	close(offers)
	for i := range 20 {
		select {
		case events <- protocol.Envelope{Act: "A1", Seq: uint64(i + 1), Name: "call_ended"}:
		case <-done:
			t.Fatalf("the printer stopped when offers closed, events still open (lost %d)", lost.Load())
		}
	}
	close(events)
	<-done
	if lost.Load() != 1 || !strings.Contains(out.String(), "connection closed") {
		t.Fatalf("offers then events closed: lost %d, output %q", lost.Load(), out.String())
	}
}
