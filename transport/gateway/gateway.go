// Package gateway is the websocket side of Senim: one connection, one
// session actor. It enforces what must be enforced before a message reaches
// an actor, because hollywood's inboxes are unbounded: the frame size, the
// number of connections, the origin, and a bounded outbound queue per
// connection (a client that does not read is disconnected, never buffered
// without end). Per-message limits (rate, commands in flight) live in the
// session actor.
package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/actors"
	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/transport/protocol"
)

// Limits of the gateway.
type Limits struct {
	MaxConns     int   // connections at once; more get HTTP 503
	MaxFrame     int64 // bytes per incoming frame
	OutboundSize int   // frames queued for one slow client before it is cut off
}

// DefaultLimits are PROTOCOL.md's.
func DefaultLimits() Limits { return Limits{MaxConns: 10000, MaxFrame: 256 << 10, OutboundSize: 256} }

// Gateway serves the session websocket.
type Gateway struct {
	Session actors.SessionDeps
	Limits  Limits
	// OriginPatterns are the browser origins allowed besides the server's
	// own host (coder/websocket patterns, e.g. "app.senim.kz").
	OriginPatterns []string
	// ClientIP names the client in logs (the server's, which believes
	// X-Forwarded-For from trusted proxies only); nil: the peer's address.
	ClientIP func(*http.Request) string
	Log      zerolog.Logger

	conns atomic.Int64

	mu       sync.Mutex
	sessions map[*actor.PID]struct{} // every open connection's session
}

// Recheck asks every open session to re-judge its sign-in (certificate
// revoked? notary account removed?); the trust store and the accounts call
// it when their files change. It only sends messages, so it never blocks.
func (g *Gateway) Recheck() {
	g.mu.Lock()
	pids := make([]*actor.PID, 0, len(g.sessions))
	for pid := range g.sessions {
		pids = append(pids, pid)
	}
	g.mu.Unlock()
	for _, pid := range pids {
		g.Session.Sys.Engine.Send(pid, actors.Recheck{})
	}
}

func (g *Gateway) track(pid *actor.PID, open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sessions == nil {
		g.sessions = map[*actor.PID]struct{}{}
	}
	if open {
		g.sessions[pid] = struct{}{}
	} else {
		delete(g.sessions, pid)
	}
}

func (g *Gateway) clientIP(r *http.Request) string {
	if g.ClientIP != nil {
		return g.ClientIP(r)
	}
	return r.RemoteAddr
}

// Conns is the number of open connections.
func (g *Gateway) Conns() int64 { return g.conns.Load() }

// ServeHTTP upgrades one connection and runs it until it closes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if adm := g.Session.Admission; adm.Full() {
		// Past capacity a new session would only add to the queue: it is
		// told when to come back instead.
		metrics.OverloadSheds.WithLabelValues("connection").Inc()
		secs := int((adm.RetryAfter() + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, "overloaded: the server is at capacity; try again shortly", http.StatusServiceUnavailable)
		return
	}
	if n := g.conns.Add(1); n > int64(g.Limits.MaxConns) {
		g.conns.Add(-1)
		metrics.Refused.WithLabelValues("max_conns").Inc()
		http.Error(w, "too many connections; try again shortly", http.StatusServiceUnavailable)
		return
	}
	defer g.conns.Add(-1)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{protocol.Version},
		OriginPatterns:  g.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		g.Log.Info().Err(err).Str("ip", g.clientIP(r)).Str("origin", r.Header.Get("Origin")).Msg("websocket refused")
		return
	}
	c.SetReadLimit(g.Limits.MaxFrame)
	metrics.Connections.Inc()
	defer metrics.Connections.Dec()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	conn := &wsConn{c: c, out: make(chan []byte, g.Limits.OutboundSize), done: make(chan struct{}), cancel: cancel, ip: g.clientIP(r)}
	go conn.writeLoop(ctx)
	engine := g.Session.Sys.Engine
	pid := actors.SpawnSession(g.Session, conn)
	defer engine.Send(pid, actors.ConnClosed{})
	g.track(pid, true)
	defer g.track(pid, false)
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			conn.Close("")
			return
		}
		if typ != websocket.MessageText {
			conn.Close("binary frames are not part of the protocol")
			return
		}
		engine.Send(pid, actors.Inbound{Frame: data})
	}
}

// wsConn is the session actor's handle on the websocket.
type wsConn struct {
	c      *websocket.Conn
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	cancel context.CancelFunc
	reason atomic.Value
	ip     string
}

// ClientIP is the client's address, for the password limiter's lockouts.
func (w *wsConn) ClientIP() string { return w.ip }

// Send queues a frame; false means the queue is full.
func (w *wsConn) Send(frame []byte) bool {
	select {
	case <-w.done:
		return true // closing: frames are dropped, the session is ending
	default:
	}
	select {
	case w.out <- frame:
		return true
	default:
		return false
	}
}

// Close ends the connection once, with a reason for the app.
func (w *wsConn) Close(reason string) {
	w.once.Do(func() {
		w.reason.Store(reason)
		close(w.done)
	})
}

func (w *wsConn) writeLoop(ctx context.Context) {
	defer w.cancel()
	for {
		select {
		case frame := <-w.out:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := w.c.Write(wctx, websocket.MessageText, frame)
			cancel()
			if err != nil {
				w.Close("")
				w.c.CloseNow()
				return
			}
		case <-w.done:
			// Flush what is queued, then close.
			for {
				select {
				case frame := <-w.out:
					wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_ = w.c.Write(wctx, websocket.MessageText, frame)
					cancel()
					continue
				default:
				}
				break
			}
			reason, _ := w.reason.Load().(string)
			if reason == "" {
				_ = w.c.Close(websocket.StatusNormalClosure, "")
			} else {
				_ = w.c.Close(websocket.StatusPolicyViolation, reason)
			}
			return
		case <-ctx.Done():
			w.c.CloseNow()
			return
		}
	}
}
