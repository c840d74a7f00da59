package actors

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/protocol"
)

// The events an act publishes are encoded once for all the sessions that
// send them unredacted (the same bytes, made by the first session), and
// each frame is what json.Marshal made of the envelope before.
func TestEventFramesAreMadeOnce(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 123, time.UTC)
	recs := []eventlog.Record{
		{Stream: "act-x", Seq: 4, Type: "draft_presented", Actor: "notary:n1", At: at, Payload: []byte(`{"text":"Сенімхат"}`)},
		{Stream: "act-x", Seq: 5, Type: "changes_requested", Actor: "client:871008401427", At: at, Payload: []byte(`{"reason":"a < b"}`)},
	}
	m := ActEvents{ActID: "x", Records: recs, frames: &eventFrames{}}
	for i, r := range recs {
		first, again := m.frame(i), m.frame(i)
		if &first[0] != &again[0] {
			t.Fatalf("record %d was encoded twice", i)
		}
		want, _ := json.Marshal(protocol.Envelope{Type: protocol.TypeEvent, Act: "x", Seq: r.Seq, Name: r.Type, Actor: r.Actor, At: &at, Body: r.Payload})
		if string(first) != string(want) {
			t.Fatalf("frame %s\nwant  %s", first, want)
		}
	}
}
