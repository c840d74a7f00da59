package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/senim-kz/senim/transport/protocol"
)

// Link is an eGov mobile signing link: where the citizen's phone goes
// (the QR text or the deep link), and the id of the query whose signed
// push WaitSigned waits for.
type Link struct {
	protocol.SignLink
	QueryID string
}

// SignLink asks for an eGov mobile signing link (the sign_link query; it
// may be sent before sign-in with What "signin"). act is the envelope's
// act ("" when q names it or none is needed).
func (c *Client) SignLink(ctx context.Context, act string, q protocol.SignLinkQuery) (Link, error) {
	id := NewID()
	// Registered before the query leaves: the push may follow the result
	// at once.
	wait := make(chan protocol.Envelope, 1)
	c.mu.Lock()
	if c.links == nil {
		c.links = map[string]chan protocol.Envelope{}
	}
	c.links[id] = wait
	c.mu.Unlock()
	body, _ := json.Marshal(q)
	ans, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeQuery, ID: id, Act: act, Name: "sign_link", Body: body})
	if err != nil {
		c.mu.Lock()
		delete(c.links, id)
		c.mu.Unlock()
		return Link{}, err
	}
	var l Link
	if err := json.Unmarshal(ans.Body, &l.SignLink); err != nil {
		return Link{}, fmt.Errorf("client: sign_link result: %w", err)
	}
	l.QueryID = id
	return l, nil
}

// WaitSigned waits for the phone's accepted signature of a link and
// returns the CMS (DER). A link that expires unused gives an *Error with
// code link_expired.
func (c *Client) WaitSigned(ctx context.Context, l Link) ([]byte, error) {
	c.mu.Lock()
	wait := c.links[l.QueryID]
	c.mu.Unlock()
	if wait == nil {
		return nil, fmt.Errorf("client: no sign_link %q is waiting", l.QueryID)
	}
	defer func() {
		c.mu.Lock()
		delete(c.links, l.QueryID)
		c.mu.Unlock()
	}()
	select {
	case env, ok := <-wait:
		if !ok {
			return nil, ErrClosed
		}
		if env.Type == protocol.TypeError {
			return nil, &Error{Code: env.Code, Message: env.Message}
		}
		var b protocol.SignedBody
		if err := json.Unmarshal(env.Body, &b); err != nil {
			return nil, fmt.Errorf("client: signed body: %w", err)
		}
		if b.Link != l.Link {
			return nil, fmt.Errorf("client: signed push for link %q, want %q", b.Link, l.Link)
		}
		return base64.StdEncoding.DecodeString(b.CMS)
	case <-c.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SignInCMS signs in with a CMS over the challenge made elsewhere (by the
// citizen's phone through a sign_link).
func (c *Client) SignInCMS(ctx context.Context, role string, cms []byte) (protocol.Welcome, error) {
	return c.signIn(ctx, protocol.SignIn{Method: "eds", Role: role, CMS: base64.StdEncoding.EncodeToString(cms)})
}

// linkPush hands a signed push, or the error of an expired link, to its
// waiter; it reports whether env was one. Called by the read loop.
func (c *Client) linkPush(env protocol.Envelope) bool {
	if env.Type != protocol.TypeSigned && env.Type != protocol.TypeError {
		return false
	}
	c.mu.Lock()
	wait := c.links[env.ID]
	c.mu.Unlock()
	if wait == nil {
		return false
	}
	select {
	case wait <- env:
	default: // one outcome per link; a second is not expected
	}
	return true
}
