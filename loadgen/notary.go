package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/senim-kz/senim/client"
	"github.com/senim-kz/senim/transport/protocol"
)

// notarySession is one simulated notary's signed-in session in operator
// mode. One goroutine reads its events and offers and hands each to the act
// that waits for it; the desk offers a notary one call at a time.
type notarySession struct {
	acct notaryAccount
	c    *client.Client
	// limit keeps the session under the server's per-connection message
	// rate (limits.rate_per_second), as a real app that paces itself would:
	// waiting here is part of the measured step.
	limit *rate.Limiter
	// paced adds up the time spent waiting for limit, in nanoseconds, so
	// that the report shows when the notaries, not the server, were the
	// bottleneck.
	paced *atomic.Int64
}

// pace waits for the session's turn to send n messages.
func (n *notarySession) pace(ctx context.Context, count int) error {
	t0 := time.Now()
	err := n.limit.WaitN(ctx, count)
	if d := time.Since(t0); d > time.Millisecond {
		n.paced.Add(int64(d))
	}
	return err
}

// desk routes the notaries' offers and events to the acts waiting for them.
type desk struct {
	mu     sync.Mutex
	offers map[string]chan *notarySession    // act → who was offered its call
	events map[string]chan protocol.Envelope // act → its events at the notary
}

func newDesk() *desk {
	return &desk{offers: map[string]chan *notarySession{}, events: map[string]chan protocol.Envelope{}}
}

// expect registers an act before its call is requested.
func (d *desk) expect(act string) (chan *notarySession, chan protocol.Envelope) {
	o, e := make(chan *notarySession, 1), make(chan protocol.Envelope, 64)
	d.mu.Lock()
	d.offers[act], d.events[act] = o, e
	d.mu.Unlock()
	return o, e
}

func (d *desk) forget(act string) {
	d.mu.Lock()
	delete(d.offers, act)
	delete(d.events, act)
	d.mu.Unlock()
}

// pump reads a notary's session until it closes.
func (d *desk) pump(ctx context.Context, n *notarySession) {
	for {
		select {
		case env, ok := <-n.c.Events():
			if !ok {
				return
			}
			d.mu.Lock()
			ch := d.events[env.Act]
			d.mu.Unlock()
			if ch != nil {
				select {
				case ch <- env:
				default: // an act that stopped listening
				}
			}
		case env, ok := <-n.c.Offers():
			if !ok {
				return
			}
			if env.Type != protocol.TypeOffer {
				continue
			}
			d.mu.Lock()
			ch := d.offers[env.Act]
			d.mu.Unlock()
			if ch == nil {
				// Not one of this run's acts (an earlier run's leftover, or
				// another tester's): pass, as a notary would.
				go func() { _ = n.c.Operator(ctx, "decline", env.Act) }()
				continue
			}
			select {
			case ch <- n:
			default:
			}
		case <-ctx.Done():
			return
		}
	}
}

// command paces and sends one command of the notary's.
func (n *notarySession) command(ctx context.Context, act, name string, body any) (client.Ack, error) {
	if err := n.pace(ctx, 1); err != nil {
		return client.Ack{}, err
	}
	return n.c.Command(ctx, act, name, body)
}

func (n *notarySession) query(ctx context.Context, name, act string, body, out any) error {
	if err := n.pace(ctx, 1); err != nil {
		return err
	}
	return n.c.Query(ctx, name, act, body, out)
}

func (n *notarySession) subscribe(ctx context.Context, act string, from uint64) error {
	if err := n.pace(ctx, 1); err != nil {
		return err
	}
	return n.c.Subscribe(ctx, act, from)
}
