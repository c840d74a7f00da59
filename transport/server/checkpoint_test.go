package server_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/persistence/checkpoint"
	"github.com/senim-kz/senim/persistence/eventlog"
	"github.com/senim-kz/senim/transport/server"
)

// The running server signs a checkpoint every interval and a last one when
// it stops; each verifies against the server's trust store.
func TestServerWritesCheckpoints(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.TURN.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Media.Enabled = false
	cfg.Checkpoint.Interval = config.Duration(time.Second)
	srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendTo := func(stream string, seq uint64) {
		t.Helper()
		_, err := srv.Log.Append(context.Background(), eventlog.AppendRequest{Stream: stream, ExpectedSeq: seq,
			Events: []eventlog.Draft{{Type: "e", Actor: "system", At: time.Now(), Payload: json.RawMessage(`{}`)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	appendTo("act/one", 0)
	testtool.Eventually(t, 30*time.Second, 50*time.Millisecond, func() error {
		if seq, _, err := srv.Log.Head(checkpoint.Stream); err != nil || seq == 0 {
			return errString("no checkpoint yet")
		}
		return nil
	})
	appendTo("act/two", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Open(filepath.Join(cfg.DataDir, "eventlog"), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := checkpoint.Check(l, srv.Trust, checkpoint.VerifyOptions{BIN: "940140000385"}, func(p eventlog.Problem) { t.Errorf("%s", p) })
	if err != nil {
		t.Fatal(err)
	}
	// The shutdown checkpoint covers what was appended after the last tick.
	if _, _, ok := checkpoint.ProofFor(st, "act/two"); !ok {
		t.Fatalf("the last checkpoint (%d) does not cover act/two", st.Latest.Number)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
