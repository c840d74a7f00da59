// Package client is a Go client of Senim's session protocol (PROTOCOL.md),
// with no private shortcuts: it sends and reads only the documented
// messages. The tests drive the server through it, and so will the load
// tool; the browser apps follow the same contract in JavaScript.
package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/senim-kz/senim/internal/nowake"
	"github.com/senim-kz/senim/pki"
	"github.com/senim-kz/senim/pki/ncalayer"
	"github.com/senim-kz/senim/transport/protocol"
)

// Error is a refusal from the server, with its stable code.
type Error struct {
	Code      string
	Message   string
	Duplicate bool
	// RetryAfterMS is the server's advice on overloaded, busy and
	// locked_out: when to try again.
	RetryAfterMS int64
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// CodeOf returns the code of an *Error in err's chain, or "".
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrClosed is returned once the connection is gone.
var ErrClosed = errors.New("client: connection closed")

// Signer makes the CMS signatures the protocol asks for. ncalayer.Client is
// one (the user's NCALayer, or the stand-in); KeySigner is another.
type Signer interface {
	SignCMS(ctx context.Context, data []byte, signer ncalayer.SignerParams, attached bool) ([]byte, error)
}

// Client is one session.
type Client struct {
	conn      *websocket.Conn
	challenge protocol.Challenge

	mu      sync.Mutex
	pending map[string]chan protocol.Envelope
	// links wait for the signed (or link_expired) push of a sign_link
	// query, by the query's id (egov.go).
	links  map[string]chan protocol.Envelope
	closed bool
	err    error

	events chan protocol.Envelope
	offers chan protocol.Envelope
	// opState holds operator_state messages (one per notary sign-in).
	opState chan protocol.Envelope
	media   chan protocol.Envelope
	done    chan struct{}

	inspect func([]byte)
}

// Options tune a client.
type Options struct {
	// Header is sent with the websocket handshake (e.g. Origin).
	Header http.Header
	// Buffer is the size of the Events and Offers channels (default 1024).
	// A client that does not drain them stops reading, and the server
	// eventually disconnects it, as it would a slow app.
	Buffer int
	// Inspect, if set, sees every frame the server sends after the
	// challenge, before it is decoded (tests hold them to the schema).
	Inspect func(frame []byte)
}

// wsHTTP is the HTTP client of every Dial: Go's default transport, whose
// sockets read and write without waking the runtime's monitor thread
// (internal/nowake). senim load's simulated people spent a fifth of the
// tool's CPU in that thread's polls after each idle spell.
var wsHTTP = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return nowake.NewConn(c), nil
	}
	return t
}()}

// Dial connects to a Senim websocket URL (ws://host/ws) and reads the
// challenge.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   wsHTTP,
		Subprotocols: []string{protocol.Version}, HTTPHeader: opts.Header, CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
			// The server sheds load (PROTOCOL.md, Limits): come back later.
			secs, _ := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64)
			return nil, fmt.Errorf("client: dial: %w", &Error{Code: protocol.CodeOverloaded, Message: "HTTP 503", RetryAfterMS: secs * 1000})
		}
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	conn.SetReadLimit(64 << 20)
	_, first, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("client: challenge: %w", err)
	}
	var env protocol.Envelope
	if err := json.Unmarshal(first, &env); err != nil || env.Type != protocol.TypeChallenge {
		conn.CloseNow()
		return nil, fmt.Errorf("client: expected a challenge, got %s", first)
	}
	n := opts.Buffer
	if n == 0 {
		n = 1024
	}
	c := &Client{conn: conn, pending: map[string]chan protocol.Envelope{},
		events: make(chan protocol.Envelope, n), offers: make(chan protocol.Envelope, n), opState: make(chan protocol.Envelope, 4), media: make(chan protocol.Envelope, n),
		done: make(chan struct{}), inspect: opts.Inspect}
	if err := json.Unmarshal(env.Body, &c.challenge); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("client: challenge body: %w", err)
	}
	go c.readLoop()
	return c, nil
}

// Events delivers the events of subscribed acts, in order.
func (c *Client) Events() <-chan protocol.Envelope { return c.events }

// Offers delivers offer and offer_gone messages (notaries).
func (c *Client) Offers() <-chan protocol.Envelope { return c.offers }

// OperatorState delivers the operator_state message that follows a
// notary's welcome: their restored operator mode and acts in progress.
func (c *Client) OperatorState() <-chan protocol.Envelope { return c.opState }

// Media delivers the server's media messages (offer, candidate, closed)
// and the errors that answer no request of Do (a refused answer or
// candidate sent with Signal).
func (c *Client) Media() <-chan protocol.Envelope { return c.media }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, once Done is closed (nil before): a
// websocket.CloseError carries the server's close code and reason, e.g.
// 1008 "revoked: …" when the sign-in certificate was revoked.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the session.
func (c *Client) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the connection without a closing handshake, as a network
// failure would.
func (c *Client) CloseNow() { c.conn.CloseNow() }

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.closed, c.err = true, err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			close(c.events)
			close(c.offers)
			close(c.opState)
			close(c.media)
			return
		}
		if c.inspect != nil {
			c.inspect(data)
		}
		var env protocol.Envelope
		if json.Unmarshal(data, &env) != nil {
			continue
		}
		switch env.Type {
		case protocol.TypeEvent:
			c.events <- env
		case protocol.TypeOffer, protocol.TypeOfferGone:
			c.offers <- env
		case protocol.TypeOperatorState:
			select {
			case c.opState <- env:
			default: // nobody reads them: a sign-in's restore is dropped, not waited on
			}
		default:
			c.mu.Lock()
			ch := c.pending[env.ID]
			delete(c.pending, env.ID)
			c.mu.Unlock()
			switch {
			case ch != nil:
				ch <- env
			case c.linkPush(env):
			case env.Type == protocol.TypeMedia || env.Type == protocol.TypeError:
				select {
				case c.media <- env:
				default: // nobody is in a call on this client
				}
			}
		}
	}
}

// NewID returns a fresh message id.
func NewID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Do sends an envelope with an id and waits for the answer with that id.
// An error answer is returned as *Error.
func (c *Client) Do(ctx context.Context, env protocol.Envelope) (protocol.Envelope, error) {
	if env.ID == "" {
		env.ID = NewID()
	}
	ch := make(chan protocol.Envelope, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return protocol.Envelope{}, ErrClosed
	}
	c.pending[env.ID] = ch
	c.mu.Unlock()
	b, err := json.Marshal(env)
	if err != nil {
		return protocol.Envelope{}, err
	}
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.forget(env.ID)
		return protocol.Envelope{}, fmt.Errorf("client: write: %w", err)
	}
	select {
	case ans, ok := <-ch:
		if !ok {
			return protocol.Envelope{}, ErrClosed
		}
		if ans.Type == protocol.TypeError {
			return ans, &Error{Code: ans.Code, Message: ans.Message, Duplicate: ans.Duplicate, RetryAfterMS: ans.RetryAfterMS}
		}
		return ans, nil
	case <-ctx.Done():
		c.forget(env.ID)
		return protocol.Envelope{}, ctx.Err()
	}
}

// Send writes an envelope and waits for nothing.
func (c *Client) Send(ctx context.Context, env protocol.Envelope) error {
	b, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: write: %w", err)
	}
	return nil
}

func (c *Client) forget(id string) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// ToSign returns the bytes of the sign-in challenge.
func (c *Client) ToSign() ([]byte, error) { return base64.StdEncoding.DecodeString(c.challenge.ToSign) }

// SignInEDS signs in a client or an attorney with their authentication key.
func (c *Client) SignInEDS(ctx context.Context, role string, s Signer) (protocol.Welcome, error) {
	data, err := c.ToSign()
	if err != nil {
		return protocol.Welcome{}, err
	}
	cms, err := s.SignCMS(ctx, data, ncalayer.SignerParams{ExtKeyUsageOIDs: []string{pki.EKUClientAuth}}, true)
	if err != nil {
		return protocol.Welcome{}, fmt.Errorf("client: sign the challenge: %w", err)
	}
	return c.signIn(ctx, protocol.SignIn{Method: "eds", Role: role, CMS: base64.StdEncoding.EncodeToString(cms)})
}

// SignInPassword signs in a notary.
func (c *Client) SignInPassword(ctx context.Context, login, password string) (protocol.Welcome, error) {
	return c.signIn(ctx, protocol.SignIn{Method: "password", Login: login, Password: password})
}

func (c *Client) signIn(ctx context.Context, in protocol.SignIn) (protocol.Welcome, error) {
	body, _ := json.Marshal(in)
	ans, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeSignIn, Body: body})
	if err != nil {
		return protocol.Welcome{}, err
	}
	var w protocol.Welcome
	err = json.Unmarshal(ans.Body, &w)
	return w, err
}

// Ack is an acknowledged command.
type Ack struct {
	Seq       uint64
	Duplicate bool
}

// Command sends a command with a fresh id.
func (c *Client) Command(ctx context.Context, act, name string, body any) (Ack, error) {
	return c.CommandWithID(ctx, NewID(), act, name, body)
}

// CommandWithID sends a command with the given id: repeating an id after a
// reconnect returns the first outcome.
func (c *Client) CommandWithID(ctx context.Context, id, act, name string, body any) (Ack, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return Ack{}, err
	}
	if body == nil {
		raw = nil
	}
	ans, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeCommand, ID: id, Act: act, Name: name, Body: raw})
	if err != nil {
		return Ack{}, err
	}
	return Ack{Seq: ans.Seq, Duplicate: ans.Duplicate}, nil
}

// Query asks a query and decodes its result into out (which may be nil).
func (c *Client) Query(ctx context.Context, name, act string, body, out any) error {
	var raw json.RawMessage
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return err
		}
	}
	ans, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeQuery, Act: act, Name: name, Body: raw})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(ans.Body, out)
}

// Subscribe asks for an act's events after fromSeq; they arrive on Events.
func (c *Client) Subscribe(ctx context.Context, act string, fromSeq uint64) error {
	_, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeSubscribe, Act: act, Seq: fromSeq})
	return err
}

// Operator sends a notary's operator action: available, away, or decline (with act).
func (c *Client) Operator(ctx context.Context, name, act string) error {
	_, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeOperator, Name: name, Act: act})
	return err
}
