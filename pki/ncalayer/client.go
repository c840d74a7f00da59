package ncalayer

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
)

// ErrCancelled is returned when the user cancelled in NCALayer: a reply with
// status true and no result.
var ErrCancelled = errors.New("ncalayer: the user cancelled signing")

// RemoteError is a {status:false} reply.
type RemoteError struct {
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("ncalayer: %s: %s", e.Code, e.Message) }

// Client talks to NCALayer (or the stand-in) the way a browser app does.
// Requests are answered in order; a Client is safe for concurrent use, one
// request at a time.
type Client struct {
	mu      sync.Mutex
	conn    *websocket.Conn
	Version string
}

// Dial connects to NCALayer at url (wss://127.0.0.1:13579 or, for a stand-in
// run with --plain, ws://…) and reads its greeting. tlsConfig may be nil.
func Dial(ctx context.Context, url string, tlsConfig *tls.Config) (*Client, error) {
	opts := &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled}
	if tlsConfig != nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	}
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("ncalayer: dial %s: %w", url, err)
	}
	conn.SetReadLimit(maxMessageBytes)
	_, msg, err := conn.Read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("ncalayer: greeting: %w", err)
	}
	var g Greeting
	if err := json.Unmarshal(msg, &g); err != nil || g.Result.Version == "" {
		conn.CloseNow()
		return nil, fmt.Errorf("ncalayer: unexpected greeting %q", msg)
	}
	return &Client{conn: conn, Version: g.Result.Version}, nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "") }

// Do sends one request and returns its reply.
func (c *Client) Do(ctx context.Context, req Request) (Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return Response{}, fmt.Errorf("ncalayer: write: %w", err)
	}
	_, msg, err := c.conn.Read(ctx)
	if err != nil {
		return Response{}, fmt.Errorf("ncalayer: read: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(msg, &resp); err != nil {
		return Response{}, fmt.Errorf("ncalayer: reply is not JSON: %w", err)
	}
	return resp, nil
}

// SignCMS asks for a CMS signature over data with a key that passes the
// filters, as an app does with basics.sign, format "cms", decode true. It
// returns the DER CMS.
func (c *Client) SignCMS(ctx context.Context, data []byte, signer SignerParams, attached bool) ([]byte, error) {
	d, _ := json.Marshal(base64.StdEncoding.EncodeToString(data))
	args, _ := json.Marshal(SignArgs{
		AllowedStorages: []string{"PKCS12"},
		Format:          "cms",
		Data:            d,
		SigningParams:   SigningParams{Decode: true, Encapsulate: attached},
		SignerParams:    signer,
		Locale:          "ru",
	})
	resp, err := c.Do(ctx, Request{Module: ModuleBasics, Method: "sign", Args: args})
	if err != nil {
		return nil, err
	}
	if !resp.Status {
		return nil, &RemoteError{Code: resp.Code, Message: resp.Message}
	}
	if resp.Body == nil || len(resp.Body.Result) == 0 {
		return nil, ErrCancelled
	}
	var results []string
	if err := json.Unmarshal(resp.Body.Result, &results); err != nil || len(results) != 1 {
		return nil, fmt.Errorf("ncalayer: unexpected result %s", resp.Body.Result)
	}
	return base64.StdEncoding.DecodeString(results[0])
}
