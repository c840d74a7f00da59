// Package gateway is the websocket side of Senim: one connection, one
// session actor. It enforces what must be enforced before a message reaches
// an actor, because hollywood's inboxes are unbounded: the frame size, the
// number of connections, the origin, and a bounded outbound queue per
// connection (a client that does not read is disconnected, never buffered
// without end). Per-message limits (rate, commands in flight) live in the
// session actor.
package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
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
	if adm := g.Session.Admission; !adm.Accepting() {
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
		refuse(w, http.StatusServiceUnavailable, CodeTooManyConnections, "too many connections; try again shortly")
		return
	}
	ip := g.clientIP(r)
	if !g.takeIP(ip) {
		g.conns.Add(-1)
		refuse(w, http.StatusTooManyRequests, CodeTooManyFromIP, "too many connections from this address; close one first")
		return
	}
	c, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		Subprotocols:    []string{protocol.Version},
		OriginPatterns:  g.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		g.conns.Add(-1)
		g.releaseIP(ip)
		g.Log.Info().Err(err).Str("ip", ip).Str("origin", r.Header.Get("Origin")).Msg("websocket refused")
		return
	}
	c.SetReadLimit(g.Limits.MaxFrame)
	metrics.Connections.Inc()
	// The session reads on a goroutine of its own, and this handler
	// returns: net/http's goroutine then ends, and with it what it held
	// for the upgrade request (its 4 KiB buffers, the request, the headers).
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	conn := &wsConn{c: c, ctx: ctx, cancel: cancel, max: g.Limits.OutboundSize, ip: ip}
	go g.read(conn)
}

// read runs one connection's session until the connection closes.
func (g *Gateway) read(conn *wsConn) {
	defer g.conns.Add(-1)
	defer g.releaseIP(conn.ip)
	defer metrics.Connections.Dec()
	defer conn.cancel()
	c, ctx := conn.c, conn.ctx
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

// wsBuffer is the size of a connection's read and write buffers: frames
// are small, a large one bypasses them, and net/http's 4 KiB each were a
// good part of an idle session's memory.
const wsBuffer = 512

// smallBuffers hands the websocket small buffers of its own when it
// hijacks the connection, instead of net/http's.
type smallBuffers struct{ http.ResponseWriter }

// Hijack takes the connection over, moving what net/http had already
// buffered into the new reader (a client may send its first frame right
// behind the upgrade request).
func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	n := brw.Reader.Buffered()
	if n > wsBuffer {
		return conn, brw, nil // rare: keep net/http's buffers
	}
	pending, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), conn), wsBuffer)
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return conn, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsBuffer)), nil
}

// wsConn is the session actor's handle on the websocket. Its writer runs
// only while there is something to write: an idle session then holds no
// goroutine and no queue besides the one reading (a parked writer
// goroutine and a 256-slot channel were a third of an idle session's
// memory).
type wsConn struct {
	c      *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	max    int // frames queued before the client counts as too slow
	ip     string

	mu      sync.Mutex
	queue   [][]byte
	writing bool                 // a drain goroutine runs (or has finished the connection)
	closed  bool                 // Close was called, or writing failed
	reason  string               // why, for the close frame
	status  websocket.StatusCode // the close status; 0: by the reason
}

// ClientIP is the client's address, for the password limiter's lockouts.
func (w *wsConn) ClientIP() string { return w.ip }

// Send queues a frame; false means the queue is full.
func (w *wsConn) Send(frame []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return true // closing: frames are dropped, the session is ending
	}
	if len(w.queue) >= w.max {
		return false
	}
	w.queue = append(w.queue, frame)
	if !w.writing {
		w.writing = true
		go w.drain()
	}
	return true
}

// Close ends the connection once, with a reason for the app, after what is
// queued has been written.
func (w *wsConn) Close(reason string) { w.closeWith(0, reason) }

// closeWith ends the connection once with a given status (0: by the
// reason: normal without one, policy violation with one).
func (w *wsConn) closeWith(status websocket.StatusCode, reason string) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed, w.reason, w.status = true, reason, status
	start := !w.writing
	w.writing = true
	w.mu.Unlock()
	if start {
		go w.drain()
	}
}

// drain writes the queue until it is empty, then ends (or, once closed,
// closes the websocket). Only one runs at a time: w.writing.
func (w *wsConn) drain() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			if w.closed {
				w.mu.Unlock()
				w.finish()
				return
			}
			w.writing, w.queue = false, nil // nil: a burst's array is not kept
			w.mu.Unlock()
			return
		}
		frame := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		closing := w.closed
		w.mu.Unlock()
		timeout := 10 * time.Second
		if closing {
			timeout = 2 * time.Second
		}
		wctx, cancel := context.WithTimeout(w.ctx, timeout)
		err := w.c.Write(wctx, websocket.MessageText, frame)
		cancel()
		if err != nil && !closing {
			w.mu.Lock()
			w.closed, w.queue = true, nil
			w.mu.Unlock()
			w.c.CloseNow()
			w.cancel()
			return
		}
	}
}

func (w *wsConn) finish() {
	defer w.cancel()
	w.mu.Lock()
	reason, status := w.reason, w.status
	w.mu.Unlock()
	// Close, not CloseNow, even when the reader has gone: the app gets the
	// reason, and a dead peer only makes Close fail at once.
	if status != 0 {
		_ = w.c.Close(status, reason)
	} else if reason == "" {
		_ = w.c.Close(websocket.StatusNormalClosure, "")
	} else {
		_ = w.c.Close(websocket.StatusPolicyViolation, reason)
	}
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
				w.cancel()
				return
			}
		}
	}
}
