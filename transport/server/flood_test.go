package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/transport/protocol"
)

// A flood of wrong notary passwords (24 connections × 3) is answered
// signin_failed, busy or locked_out, every one with a retry-after where it
// sheds, while a signed-in session keeps answering its queries; then the
// login is locked out, for the right password too. Against a running
// server (SENIM_FLOOD_URL=ws://…/ws, SENIM_MEM_PID=its process) it reports
// the server's peak RSS instead.
func TestPasswordFlood(t *testing.T) {
	url, pid := os.Getenv("SENIM_FLOOD_URL"), os.Getenv("SENIM_MEM_PID")
	var w *world
	if url == "" {
		w = newWorld(t, func(c *config.Config) { c.Admission.PasswordQueue = 4 })
		url = w.url
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dial := func() *client.Client {
		c, err := client.Dial(ctx, url, client.Options{Buffer: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	var other *client.Client
	if w != nil {
		other = w.eds("client", w.client)
	}
	var peak atomic.Int64
	before := int64(0)
	if pid != "" {
		before = rssKB(t, pid)
		peak.Store(before)
	}
	codes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < 24; i++ {
		c := dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				_, err := c.SignInPassword(ctx, "aliya", fmt.Sprintf("wrong-%d", j))
				mu.Lock()
				codes[client.CodeOf(err)]++
				mu.Unlock()
				var e *client.Error
				if errors.As(err, &e) && (e.Code == protocol.CodeBusy || e.Code == protocol.CodeLockedOut) && e.RetryAfterMS <= 0 {
					t.Errorf("%s without a retry-after", e.Code)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	answered := 0
	for flooding := true; flooding; {
		select {
		case <-done:
			flooding = false
		default:
		}
		if pid != "" {
			if v := rssKB(t, pid); v > peak.Load() {
				peak.Store(v)
			}
		}
		if other != nil {
			var mine struct{ Acts []protocol.ActSummary }
			qctx, qcancel := context.WithTimeout(ctx, time.Minute)
			err := other.Query(qctx, "my_acts", "", nil, &mine)
			qcancel()
			if err != nil {
				t.Fatalf("another session during the flood: %v", err)
			}
			answered++
		}
		time.Sleep(50 * time.Millisecond) // pacing the sampler (the rate limit), not waiting for an event
	}
	t.Logf("72 wrong passwords in %v: %v; the other session answered %d queries meanwhile", time.Since(start).Round(time.Millisecond), codes, answered)
	if pid != "" {
		t.Logf("server RSS %d KB before, %d KB at the peak (+%d MB)", before, peak.Load(), (peak.Load()-before)/1024)
	}
	for code := range codes {
		switch code {
		case protocol.CodeSignInFail, protocol.CodeBusy, protocol.CodeLockedOut:
		default:
			t.Errorf("a wrong password answered %q", code)
		}
	}
	if codes[protocol.CodeLockedOut] == 0 {
		t.Errorf("the login was never locked out: %v", codes)
	}
	if w != nil {
		_, err := dial().SignInPassword(ctx, "aliya", "aliya-password")
		if client.CodeOf(err) != protocol.CodeLockedOut {
			t.Fatalf("the right password during the lockout: %v", err)
		}
	}
}
