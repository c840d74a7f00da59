package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/config"
	"github.com/senim-kz/senim/internal/testtool"
	"github.com/senim-kz/senim/transport/gateway"
	"github.com/senim-kz/senim/transport/protocol"
	"github.com/senim-kz/senim/transport/server"
)

// startBounded runs a server on defaults edited by edit.
func startBounded(t *testing.T, edit func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.TURN.Addr = "127.0.0.1:0"
	edit(&cfg)
	srv, err := server.New(cfg, zerolog.Nop(), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv
}

// The websocket's connection limits: per client IP (429 with a code), and
// the keepalive that closes a peer that no longer answers pings.
func TestConnectionBounds(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		srv := startBounded(t, func(c *config.Config) { c.Limits.MaxConnsPerIP = 2 })
		addr := srv.Addr()
		first, _ := raw(t, addr)
		raw(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection from one IP: %v %v", resp, err)
		}
		var body struct{ Code string }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Code != gateway.CodeTooManyFromIP {
			t.Fatalf("body %+v, %v", body, err)
		}
		// A closed connection frees its slot.
		first.Close(websocket.StatusNormalClosure, "")
		testtool.Eventually(t, 20*time.Second, 10*time.Millisecond, func() error {
			c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Version}})
			if err != nil {
				return err
			}
			c.CloseNow()
			return nil
		})
	})
	t.Run("keepalive", func(t *testing.T) {
		srv := startBounded(t, func(c *config.Config) {
			c.Limits.PingInterval = config.Duration(time.Second)
			c.Limits.SigninTimeout = config.Duration(time.Hour) // not the sign-in deadline closing it
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// A peer that never reads never answers a ping: a dead peer.
		c, _, err := websocket.Dial(ctx, "ws://"+srv.Addr()+"/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Version}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		testtool.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
			if n := srv.Gateway.Conns(); n != 0 {
				return fmt.Errorf("%d connections open", n)
			}
			return nil
		})
	})
}

// RFC 6455 §8.1: a text frame that is not UTF-8 closes the connection with
// 1007 and is never answered.
func TestInvalidUTF8Closes1007(t *testing.T) {
	srv := startBounded(t, func(*config.Config) {})
	c, _ := raw(t, srv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("{\"type\":\"query\",\"id\":\"\xff\xfe\",\"name\":\"my_acts\"}")); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
		t.Fatalf("want close 1007, got %q, %v", data, err)
	}
}
