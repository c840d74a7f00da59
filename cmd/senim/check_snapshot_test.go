package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// An act snapshot altered on disk (its checksum recomputed: it still
// matches the chain) is outside the chain and the checkpoints; `senim
// check` replays the act and names it, and -drop-snapshots removes it.
func TestCheckFindsAnAlteredActSnapshot(t *testing.T) {
	const id = "00112233445566778899aabbccddeeff"
	data := t.TempDir()
	l, err := eventlog.Open(filepath.Join(data, "eventlog"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var drafts []eventlog.Draft
	for _, e := range []act.Event{
		act.ApplicationSubmitted{ActID: id, ActionType: act.ActionPowerOfAttorney,
			Principal: act.Party{IIN: "871008401427", Name: "СЕЙТҚАЛИ ӘЙГЕРІМ"}, Attorney: act.Party{IIN: "760212350620", Name: "ОМАРОВ ЕРЛАН"},
			Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: "871008401427"}, At: at},
		act.ConsentRequested{AttorneyIIN: "760212350620"},
		act.ConsentGiven{Signature: act.Signature{CMS: []byte{0x30}, SignerIIN: "760212350620"}},
	} {
		b, _ := json.Marshal(e)
		drafts = append(drafts, eventlog.Draft{Type: e.EventType(), Actor: "system", At: at, Payload: b})
	}
	if _, err := l.Append(context.Background(), eventlog.AppendRequest{Stream: "act/" + id, Events: drafts}); err != nil {
		t.Fatal(err)
	}
	if err := actors.WriteActSnapshot(l, id); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if out := mustCLI(t, data, "check"); !strings.Contains(out, "the event log is sound") {
		t.Fatalf("check with a sound snapshot:\n%s", out)
	}

	l, err = eventlog.Open(filepath.Join(data, "eventlog"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, found, err := l.Snapshot("act/" + id)
	if err != nil || !found {
		t.Fatalf("snapshot: %v %v", found, err)
	}
	altered := strings.Replace(string(s.Body), "ОМАРОВ ЕРЛАН", "ЗЛОУМЫШЛЕННИК", 1)
	if altered == string(s.Body) {
		t.Fatal("the attorney's name is not in the snapshot")
	}
	s.Body = []byte(altered)
	if err := l.PutSnapshot("act/"+id, s); err != nil {
		t.Fatal(err)
	}
	l.Close()

	out, code := cli(t, data, "check")
	if code != 1 || !strings.Contains(out, "snapshot_mismatch stream=act/"+id+" seq=3: the act's state") {
		t.Fatalf("check with an altered snapshot: exit %d\n%s", code, out)
	}
	if out, _ := cli(t, data, "check", "-drop-snapshots"); !strings.Contains(out, "removed the snapshot of act/"+id) {
		t.Fatalf("check -drop-snapshots:\n%s", out)
	}
	if out := mustCLI(t, data, "check"); !strings.Contains(out, "the event log is sound") {
		t.Fatalf("check after the snapshot was dropped:\n%s", out)
	}
}
