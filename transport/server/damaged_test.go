package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/persistence/eventlog/storetest"
)

// The public check of a document whose act sits on a damaged block answers
// storage_corrupt, of one whose history was altered chain_broken, without
// naming files; the server stays up and checks the other documents. (Before,
// the first such check ended the process in pebble's Fatalf.)
func TestPublicCheckOfDamagedActs(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "eventlog")
	marker := storetest.WriteStreams(t, dir, []string{"act/a0", "act/a1", "act/a2", "act/a3"}, "act/a1",
		func(stream string, i int, name string) (eventlog.Draft, []eventlog.IndexOp) {
			id := strings.TrimPrefix(stream, "act/")
			p, _ := json.Marshal(act.ApplicationSubmitted{ActID: id, ActionType: "power_of_attorney",
				Principal: act.Party{IIN: "871008401427", Name: name}, Attorney: act.Party{IIN: "760212350620"}})
			var index []eventlog.IndexOp
			if i == 0 {
				index = []eventlog.IndexOp{{Index: "code", Value: "CODE-" + id}}
			}
			return eventlog.Draft{Type: "application_submitted", Actor: "client:871008401427", At: time.Now(), Payload: p}, index
		})
	storetest.FlipByte(t, dir, marker)
	storetest.Rewrite(t, dir, "act/a2", 3, func(r *eventlog.Record) { r.Actor = "notary:evil" })

	srv := startServer(t, data)
	get := func(code string) (int, map[string]any, string) {
		t.Helper()
		resp, err := http.Get("http://" + srv.Addr() + "/verify/" + code + "?format=json")
		if err != nil {
			t.Fatalf("%s: %v (the server is gone?)", code, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m, string(b)
	}
	for i := 0; i < 2; i++ {
		if st, m, raw := get("CODE-a1"); st != http.StatusServiceUnavailable || m["code"] != "storage_corrupt" || strings.Contains(raw, ".sst") {
			t.Fatalf("the damaged act: %d %s", st, raw)
		}
		if st, m, raw := get("CODE-a2"); st != http.StatusServiceUnavailable || m["code"] != "chain_broken" {
			t.Fatalf("the altered act: %d %s", st, raw)
		}
	}
	for _, code := range []string{"CODE-a0", "CODE-a3"} {
		if st, m, raw := get(code); st != http.StatusOK || m["status"] != "not_signed" {
			t.Fatalf("%s: %d %s", code, st, raw)
		}
	}
}
