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
	sb := &smallBuffers{ResponseWriter: w}
	c, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
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
	conn := &wsConn{c: c, nc: sb.conn, cork: sb.cork, max: g.Limits.OutboundSize, ip: ip}
	// The session is spawned here, on net/http's goroutine, whose stack the
	// work has already grown; the reader then starts on a fresh goroutine
	// whose stack only ever holds the read path (a spawn on it had grown
	// it for good: it was the largest part of an idle session). This
	// handler returns, and net/http's goroutine ends with what it held for
	// the upgrade (its 4 KiB buffers, the request, the headers).
	pid := g.spawn(conn)
	g.track(pid, true)
	go g.read(conn, pid)
}

// spawn starts the session actor of one connection: with the gateway's
// SessionDeps shared by every session when they allow it.
func (g *Gateway) spawn(conn *wsConn) *actor.PID {
	if g.Session.Summaries != nil {
		return g.Session.Spawn(conn)
	}
	return actors.SpawnSession(g.Session, conn)
}

// read runs one connection's session until the connection closes.
func (g *Gateway) read(conn *wsConn, pid *actor.PID) {
	defer g.conns.Add(-1)
	defer g.releaseIP(conn.ip)
	defer metrics.Connections.Dec()
	defer conn.readerDone()
	defer g.track(pid, false)
	engine := g.Session.Sys.Engine
	defer engine.Send(pid, actors.ConnClosed{})
	if g.Limits.PingInterval > 0 {
		conn.keepalive(g.Limits.PingInterval)
	}
	c := conn.c
	for {
		// No deadline on the read: a context that can end makes the
		// websocket arm a watcher per read. The connection is cut by
		// closing it instead (the keepalive, the writer, readerDone).
		typ, data, err := readMessage(c)
		if err != nil {
			conn.Close("")
			c.CloseNow() // the peer is gone or done: nothing is waited for
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

// wsBuffer is the size of a connection's write buffer, and of its read
// buffer where it cannot borrow one (readConn): frames are small, a large
// one bypasses them, and net/http's 4 KiB each were a good part of an idle
// session's memory.
const wsBuffer = 512

// smallBuffers hands the websocket small buffers of its own when it
// hijacks the connection, instead of net/http's.
type smallBuffers struct {
	http.ResponseWriter
	conn net.Conn  // the hijacked connection
	cork *corkConn // what the websocket writes to, over conn
}

// Hijack takes the connection over, moving what net/http had already
// buffered into the new reader (a client may send its first frame right
// behind the upgrade request).
func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	s.conn = conn
	n := brw.Reader.Buffered()
	pending, _ := brw.Reader.Peek(n)
	// The websocket writes to the connection it is handed (it resets its
	// writer to it): that is the cork, so that a batch of frames can go
	// out in one write.
	if rc := newReadConn(conn, pending); rc != nil {
		s.cork = &corkConn{Conn: rc, raw: rc.raw}
		// 16 bytes, bufio's least: reads come out of rc's borrowed
		// buffer, or go straight into the websocket's.
		return s.cork, bufio.NewReadWriter(bufio.NewReaderSize(rc, 16), bufio.NewWriterSize(s.cork, wsBuffer)), nil
	}
	if n > wsBuffer {
		return conn, brw, nil // rare: keep net/http's buffers
	}
	s.cork = &corkConn{Conn: conn}
	bw := bufio.NewWriterSize(s.cork, wsBuffer)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(pending)), conn), wsBuffer)
	if n > 0 {
		if _, err := br.Peek(n); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	return s.cork, bufio.NewReadWriter(br, bw), nil
}

// wsConn is the session actor's handle on the websocket. Its writer runs
// only while there is something to write, and its keepalive is a timer:
// an idle session then holds one goroutine, the reader, and no queue (a
// parked writer goroutine and a 256-slot channel were a third of an idle
// session's memory, a pinging goroutine another).
type wsConn struct {
	c    *websocket.Conn
	nc   net.Conn  // under c: its write deadline bounds a write
	cork *corkConn // under c, over nc: batches of frames; nil: none
	max  int       // frames queued before the client counts as too slow
	ip   string

	mu      sync.Mutex
	queue   [][]byte
	writing bool                 // a drain goroutine runs (or has finished the connection)
	closed  bool                 // Close was called, or writing failed
	gone    bool                 // the reader has ended: the connection is over
	reason  string               // why, for the close frame
	status  websocket.StatusCode // the close status; 0: by the reason
	ping    *time.Timer          // the keepalive's next ping; nil: none
	pinging bool                 // a ping is being written (it may wait for the socket)
}

// ClientIP is the client's address, for the password limiter's lockouts.
func (w *wsConn) ClientIP() string { return w.ip }

// Send queues a frame; false means the queue is full (SendAll).
func (w *wsConn) Send(frame []byte) bool {
	one := [1][]byte{frame}
	return w.SendAll(one[:])
}

// SendAll queues frames, to go out in order; false means the queue is
// full. Frames sent together (an act's events and the answer to the
// command that made them) reach the socket together: one write(2) where
// each was one, and one wake-up of the reader at the other end.
//
// When nothing else is being written, the frames are written at once by
// the caller (the session actor) instead of by a writer goroutine started
// for them: into the cork, then to the socket in one write(2) that never
// waits (tryUncork), inlineMax bytes at most at a time. Only if the socket
// does not take it all does a writer goroutine finish the job, with the
// write deadline, as for a queue. A goroutine started per frame, and the
// hand-off to it, cost more than the write: most frames go out this way,
// and the caller still never waits for a slow client.
func (w *wsConn) SendAll(frames [][]byte) bool {
	for len(frames) > 0 {
		// The most frames that fit in inlineMax bytes, one at least.
		n, size := 1, len(frames[0])
		for n < len(frames) && size+len(frames[n]) <= inlineMax {
			size += len(frames[n])
			n++
		}
		if !w.send(frames[:n], size) {
			return false
		}
		frames = frames[n:]
	}
	return true
}

// send writes batch (size bytes in all) as SendAll says.
func (w *wsConn) send(batch [][]byte, size int) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return true // closing: frames are dropped, the session is ending
	}
	if len(w.queue)+len(batch) > w.max {
		w.mu.Unlock()
		return false
	}
	if w.writing || w.pinging || w.gone || w.cork == nil || w.cork.raw == nil || size > inlineMax {
		w.queue = append(w.queue, batch...)
		if !w.writing {
			w.writing = true
			go w.drain()
		}
		w.mu.Unlock()
		return true
	}
	w.writing = true
	w.mu.Unlock()
	w.cork.cork()
	var err error
	for _, frame := range batch {
		if err = w.c.Write(context.Background(), websocket.MessageText, frame); err != nil {
			break
		}
	}
	pending, uerr := w.cork.tryUncork()
	if err == nil {
		err = uerr
	}
	w.mu.Lock()
	if err != nil {
		// As a failed write of the writer: the connection is cut.
		w.closed, w.queue = true, nil
		w.mu.Unlock()
		w.c.CloseNow()
		return true
	}
	if pending || len(w.queue) > 0 || w.closed {
		w.mu.Unlock()
		go w.drain() // still w.writing: it flushes what is held, then the queue
		return true
	}
	w.writing = false
	w.mu.Unlock()
	return true
}

// writersStarted counts the writer goroutines started (drain), for tests.
var writersStarted atomic.Int64

// inlineMax is the most SendAll writes itself at a time: a larger frame goes
// to the writer goroutine (a batch past corkLimit would be written with a
// write that waits).
const inlineMax = 16 << 10

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
	writersStarted.Add(1)
	if !w.flushHeld() {
		return
	}
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
		// Every frame queued goes in one batch: written into the cork,
		// then to the socket in one system call. (What Send's write left
		// held in the cork goes first: write corks onto it.)
		batch := w.queue
		w.queue = nil
		closing, gone := w.closed, w.gone
		w.mu.Unlock()
		if gone {
			continue // the connection is over: what is queued is dropped
		}
		if !w.writeBounded(closing, func() error { return w.write(batch) }) {
			return
		}
	}
}

// writeBounded runs write under the socket's write deadline (shorter once
// closing) and reports false if the connection was cut for its failure.
// The deadline is the socket's, not a context's: coder/websocket keeps the
// context of a connection's last write for good, and a timeout's (with
// its timer) was a good part of an idle session. A write past it fails,
// and the connection is cut, as the context's end cut it; the reader's end
// cuts it too.
func (w *wsConn) writeBounded(closing bool, write func() error) bool {
	timeout := 10 * time.Second
	if closing {
		timeout = 2 * time.Second
	}
	_ = w.nc.SetWriteDeadline(time.Now().Add(timeout))
	err := write()
	_ = w.nc.SetWriteDeadline(time.Time{})
	if err != nil && !closing {
		w.mu.Lock()
		w.closed, w.queue = true, nil
		w.mu.Unlock()
		w.c.CloseNow()
		return false
	}
	return true
}

// flushHeld writes what Send's write left held in the cork, waiting for
// the socket up to the write deadline, and reports false if the
// connection was cut for it (the write failed).
func (w *wsConn) flushHeld() bool {
	if w.cork == nil || !w.cork.pending() {
		return true
	}
	w.mu.Lock()
	closing := w.closed
	w.mu.Unlock()
	return w.writeBounded(closing, w.cork.uncork)
}

// write writes a batch of frames, in one system call when it can.
func (w *wsConn) write(batch [][]byte) error {
	corked := w.cork != nil && len(batch) > 1
	if corked {
		w.cork.cork()
	}
	var err error
	for i, frame := range batch {
		batch[i] = nil
		if err == nil {
			err = w.c.Write(context.Background(), websocket.MessageText, frame)
		}
	}
	if corked {
		if uerr := w.cork.uncork(); err == nil {
			err = uerr
		}
	}
	return err
}

func (w *wsConn) finish() {
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

// readerDone marks the connection over once its reader has ended: the
// keepalive stops, what is still queued is dropped.
func (w *wsConn) readerDone() {
	w.mu.Lock()
	w.gone = true
	if w.ping != nil {
		w.ping.Stop()
	}
	w.mu.Unlock()
}

// keepalive pings the app every interval. coder/websocket answers pings
// on the app's side while it reads; a peer that is gone (a laptop shut, a
// network dropped without a FIN) never answers, and its connection is cut
// instead of holding a session and a per-IP slot until TCP gives up. It is
// a timer, not a goroutine: a ping runs on the timer's own goroutine, which
// ends with it.
func (w *wsConn) keepalive(interval time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ping = time.AfterFunc(interval, func() { w.pingOnce(interval) })
}

func (w *wsConn) pingOnce(interval time.Duration) {
	// While a ping may wait for the socket (holding the websocket's write
	// lock), Send does not write itself: it queues for the writer.
	w.mu.Lock()
	w.pinging = true
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), interval)
	err := w.c.Ping(ctx)
	cancel()
	w.mu.Lock()
	w.pinging = false
	gone := w.gone
	if err == nil && !gone {
		w.ping.Reset(interval)
	}
	w.mu.Unlock()
	if err == nil || gone {
		return
	}
	metrics.Refused.WithLabelValues("ping_timeout").Inc()
	w.Close("")
	w.c.CloseNow()
}
