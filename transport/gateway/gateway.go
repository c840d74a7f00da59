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
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	// MaxPerIP is the connections one client IP may hold at once; more get
	// HTTP 429 (0: no per-IP limit).
	MaxPerIP int
	// PingInterval is how often the server pings the app; a peer that does
	// not answer within PingInterval is closed, so a dead peer holds its
	// connection (and its per-IP slot) for at most twice the interval
	// (0: no keepalive).
	PingInterval time.Duration
}

// DefaultLimits are PROTOCOL.md's.
func DefaultLimits() Limits {
	return Limits{MaxConns: 10000, MaxFrame: 256 << 10, OutboundSize: 256, MaxPerIP: 50, PingInterval: 30 * time.Second}
}

// Codes of the HTTP answers that refuse an upgrade.
const (
	// CodeTooManyConnections: the server's connection limit (HTTP 503).
	CodeTooManyConnections = "too_many_connections"
	// CodeTooManyFromIP: the client IP's connection limit (HTTP 429).
	CodeTooManyFromIP = "too_many_connections_from_ip"
)

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
	perIP    map[string]int          // open connections by client IP
}

// refuse answers a refused upgrade with a stable code, as JSON.
func refuse(w http.ResponseWriter, status int, code, message string) {
	metrics.Refused.WithLabelValues(code).Inc()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

// takeIP counts one more connection from ip; false: ip is at its limit.
func (g *Gateway) takeIP(ip string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perIP == nil {
		g.perIP = map[string]int{}
	}
	if g.Limits.MaxPerIP > 0 && g.perIP[ip] >= g.Limits.MaxPerIP {
		return false
	}
	g.perIP[ip]++
	return true
}

func (g *Gateway) releaseIP(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip) // the map holds only IPs with connections
	}
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
	if n := g.conns.Add(1); n > int64(g.Limits.MaxConns) {
		g.conns.Add(-1)
		refuse(w, http.StatusServiceUnavailable, CodeTooManyConnections, "too many connections; try again shortly")
		return
	}
	defer g.conns.Add(-1)
	ip := g.clientIP(r)
	if !g.takeIP(ip) {
		refuse(w, http.StatusTooManyRequests, CodeTooManyFromIP, "too many connections from this address; close one first")
		return
	}
	defer g.releaseIP(ip)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{protocol.Version},
		OriginPatterns:  g.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		g.Log.Info().Err(err).Str("ip", ip).Str("origin", r.Header.Get("Origin")).Msg("websocket refused")
		return
	}
	c.SetReadLimit(g.Limits.MaxFrame)
	metrics.Connections.Inc()
	defer metrics.Connections.Dec()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	conn := &wsConn{c: c, out: make(chan []byte, g.Limits.OutboundSize), done: make(chan struct{}), cancel: cancel}
	go conn.writeLoop(ctx)
	if g.Limits.PingInterval > 0 {
		go conn.keepalive(ctx, g.Limits.PingInterval)
	}
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
		if !utf8.Valid(data) {
			// RFC 6455 §8.1: a text frame that is not UTF-8 fails the
			// connection with 1007; it is never parsed or answered.
			metrics.Refused.WithLabelValues("invalid_utf8").Inc()
			conn.closeWith(websocket.StatusInvalidFramePayloadData, "a text frame must be UTF-8")
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
	status atomic.Int32 // the close status; 0: by the reason
}

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

// closeWith ends the connection once with a given status.
func (w *wsConn) closeWith(status websocket.StatusCode, reason string) {
	w.once.Do(func() {
		w.status.Store(int32(status))
		w.reason.Store(reason)
		close(w.done)
	})
}

// keepalive pings the app every interval. coder/websocket answers pings
// on the app's side while it reads; a peer that is gone (a laptop shut, a
// network dropped without a FIN) never answers, and its connection is cut
// instead of holding a session and a per-IP slot until TCP gives up.
func (w *wsConn) keepalive(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := w.c.Ping(pctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					metrics.Refused.WithLabelValues("ping_timeout").Inc()
				}
				w.Close("")
				w.c.CloseNow()
				return
			}
		}
	}
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
			if st := w.status.Load(); st != 0 {
				_ = w.c.Close(websocket.StatusCode(st), reason)
			} else if reason == "" {
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
