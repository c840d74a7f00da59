package protocol

import (
	"encoding/json"
	"testing"
	"time"
)

// EventFrame makes exactly json.Marshal's bytes, for plain events and for
// the ones it hands to json.Marshal (escapes, HTML characters, odd times).
func TestEventFrameIsJSONMarshals(t *testing.T) {
	at := time.Date(2026, 11, 30, 14, 5, 6, 789000000, time.UTC)
	cases := []struct {
		act, name, actor string
		seq              uint64
		at               time.Time
		body             string
	}{
		{"0123456789abcdef0123456789abcdef", "draft_presented", "notary:load001", 7, at, `{"draft":{"text":"Сенімхат","n":1}}`},
		{"a", "act_signed", "client:871008401427", 1, at.Truncate(time.Second), `{}`},
		{"a", "x", "", 0, at, ``},
		{"a", "x", "y", 3, at, `{"note":"<b>&</b>"}`},
		{"a\"b", "x\\y", "Әйгерім", 3, at, `[1,2]`},
		{"a", "x", "\u2028", 3, at, `"line\u2028sep"`},
		{"a", "x", "y", 1 << 63, time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), `null`},
		{"a", "x", "y", 2, at.In(time.FixedZone("Almaty", 5*3600)), `{"k":"v"}`},
	}
	for _, c := range cases {
		at := c.at
		want, err := json.Marshal(Envelope{Type: TypeEvent, Act: c.act, Seq: c.seq, Name: c.name, Actor: c.actor, At: &at, Body: json.RawMessage(c.body)})
		if err != nil {
			if c.at.Year() > 9999 {
				continue // json.Marshal refuses it; EventFrame panics as it did
			}
			t.Fatal(err)
		}
		if got := EventFrame(c.act, c.seq, c.name, c.actor, c.at, []byte(c.body)); string(got) != string(want) {
			t.Errorf("EventFrame\n got %s\nwant %s", got, want)
		}
	}
}

func BenchmarkEventFrame(b *testing.B) {
	at := time.Now().UTC()
	body := []byte(`{"draft":{"text":"Доверенность на управление автомобилем","version":2},"by":"notary:load001"}`)
	b.Run("EventFrame", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			EventFrame("0123456789abcdef0123456789abcdef", 12, "draft_presented", "notary:load001", at, body)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(Envelope{Type: TypeEvent, Act: "0123456789abcdef0123456789abcdef", Seq: 12, Name: "draft_presented", Actor: "notary:load001", At: &at, Body: body})
		}
	})
}
