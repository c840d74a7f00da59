package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/senim-kz/senim/media/peer"
	"github.com/senim-kz/senim/media/sfu"
	"github.com/senim-kz/senim/transport/protocol"
)

// JoinCall joins the video call of an act; the answer is the joined
// message (with the recording notice and this participant's TURN
// servers). The SFU's offer follows on Media.
func (c *Client) JoinCall(ctx context.Context, act string, resume bool) (protocol.Media, error) {
	body, _ := json.Marshal(protocol.Media{Kind: "join", Resume: resume})
	ans, err := c.Do(ctx, protocol.Envelope{Type: protocol.TypeMedia, Act: act, Body: body})
	if err != nil {
		return protocol.Media{}, err
	}
	var m protocol.Media
	if err := json.Unmarshal(ans.Body, &m); err != nil {
		return protocol.Media{}, err
	}
	return m, nil
}

// Signal sends a media message of an act (answer, candidate, restart,
// leave); refusals arrive on Media.
func (c *Client) Signal(ctx context.Context, act string, m protocol.Media) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.Send(ctx, protocol.Envelope{Type: protocol.TypeMedia, Act: act, Body: body})
}

// Call is a Go participant in an act's video call: a WebRTC peer that
// publishes synthetic video and audio through Senim's SFU, signaling over
// this client's websocket exactly as the browser apps do.
type Call struct {
	*peer.Peer
	act    string
	mu     sync.Mutex
	via    *Client // the connection its signals go through
	Joined protocol.Media
	// Errors gets the refusals and failures of the call's signaling.
	Errors chan error
	// Closed is closed when the server says the call's room closed.
	Closed chan struct{}
}

// StartCall joins the act's call, then starts a peer configured by ice
// (e.g. the relay-only policy) with the TURN servers the server handed this
// participant in joined (before any of ice's own), publishing at bitrate
// bits/s under stream. It pumps the client's Media messages until ctx ends
// or the connection closes; one call per client.
func (c *Client) StartCall(ctx context.Context, act string, ice webrtc.Configuration, stream string, bitrate int) (*Call, error) {
	api, err := sfu.NewAPI(sfu.Config{LoopbackOnly: true})
	if err != nil {
		return nil, err
	}
	call := &Call{Errors: make(chan error, 64), Closed: make(chan struct{}), act: act, via: c}
	// Join first: the credentials come with joined. The SFU's offer that
	// follows waits in the client's media queue until the pump starts.
	if call.Joined, err = c.JoinCall(ctx, act, false); err != nil {
		return nil, err
	}
	leave := func() { _ = c.Signal(ctx, act, protocol.Media{Kind: "leave"}) }
	ice.ICEServers = append(WebRTCServers(call.Joined.ICEServers), ice.ICEServers...)
	p, err := peer.New(api, ice, func(s peer.Signal) {
		report := call.report
		m := protocol.Media{Kind: s.Kind, SDP: s.SDP}
		if s.Candidate != nil {
			m.Candidate = &protocol.ICECandidate{Candidate: s.Candidate.Candidate, SDPMid: s.Candidate.SDPMid,
				SDPMLineIndex: s.Candidate.SDPMLineIndex, UsernameFragment: s.Candidate.UsernameFragment}
		}
		call.mu.Lock()
		via := call.via
		call.mu.Unlock()
		if err := via.Signal(ctx, act, m); err != nil {
			report(err)
		}
	})
	if err != nil {
		leave()
		return nil, err
	}
	call.Peer = p
	if err := p.Publish(ctx, stream, bitrate); err != nil {
		_ = p.Close()
		leave()
		return nil, err
	}
	go c.pumpCall(ctx, act, call, call.report)
	return call, nil
}

// WebRTCServers converts the ICE servers of a joined message for a
// webrtc.Configuration.
func WebRTCServers(list []protocol.ICEServer) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, s := range list {
		out = append(out, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

func (call *Call) report(err error) {
	select {
	case call.Errors <- err:
	default:
	}
}

// ResumeCall carries a call over to this client, a new connection of the
// same person after the old one dropped: the peer connection stays, the
// server answers the join with an ICE-restart offer.
func (c *Client) ResumeCall(ctx context.Context, call *Call) error {
	call.mu.Lock()
	call.via = c
	call.mu.Unlock()
	go c.pumpCall(ctx, call.act, call, call.report)
	m, err := c.JoinCall(ctx, call.act, true)
	if err != nil {
		return err
	}
	call.Joined = m
	return nil
}

func (c *Client) pumpCall(ctx context.Context, act string, call *Call, report func(error)) {
	if PumpMedia(ctx, c.media, act, call.Peer, report) {
		close(call.Closed)
	}
}

// PumpMedia applies the server's media messages of act, from media (a
// client's Media()), to peer p until ctx ends or the channel closes, and
// reports their errors; it returns true when the server closed the call.
func PumpMedia(ctx context.Context, media <-chan protocol.Envelope, act string, p *peer.Peer, report func(error)) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case env, ok := <-media:
			if !ok {
				return false
			}
			if env.Act != act {
				continue
			}
			if env.Type == protocol.TypeError {
				report(&Error{Code: env.Code, Message: env.Message})
				continue
			}
			var m protocol.Media
			if err := json.Unmarshal(env.Body, &m); err != nil {
				report(err)
				continue
			}
			var err error
			switch m.Kind {
			case "offer":
				err = p.Offer(m.SDP)
			case "candidate":
				if m.Candidate != nil {
					err = p.Candidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid,
						SDPMLineIndex: m.Candidate.SDPMLineIndex, UsernameFragment: m.Candidate.UsernameFragment})
				}
			case "closed":
				return true
			}
			if err != nil {
				report(fmt.Errorf("%s: %w", m.Kind, err))
			}
		}
	}
}
