package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/senim-kz/senim/internal/nowake"
)

// Dial's sockets are nowake.Conns (reads and writes that do not wake the
// runtime's monitor thread), and a websocket works over them: the
// challenge is read, and a frame goes back.
func TestDialUsesSocketsThatDoNotWakeTheMonitor(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{r.Header.Get("Sec-WebSocket-Protocol")}})
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"challenge","body":{"nonce":"bm9uY2U="}}`)); err != nil {
			t.Error(err)
			return
		}
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		got <- string(msg)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	raw, err := wsHTTP.Transport.(*http.Transport).DialContext(ctx, "tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, ok := raw.(*nowake.Conn); !ok {
		t.Fatalf("Dial's transport makes %T sockets, want *nowake.Conn", raw)
	}

	c, err := Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	go func() { _, _ = c.Command(ctx, "act-1", "record_check", nil) }() // unanswered: the server closes once it has read it
	select {
	case msg := <-got:
		if !strings.Contains(msg, `"record_check"`) {
			t.Fatalf("the server read %s", msg)
		}
	case <-ctx.Done():
		t.Fatal("the frame did not arrive")
	}
}
