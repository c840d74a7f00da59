package actors

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/anthdm/hollywood/actor"
)

// waiter is a one-shot mailbox for code outside the actors (HTTP handlers)
// that needs one answer. Unlike hollywood's Response its Send never blocks,
// so a stray second message cannot wedge the actor that sends it.
type waiter struct {
	pid *actor.PID
	ch  chan any
}

func (w *waiter) Send(_ *actor.PID, msg any, _ *actor.PID) {
	select {
	case w.ch <- msg:
	default:
	}
}
func (w *waiter) PID() *actor.PID           { return w.pid }
func (w *waiter) Start()                    {}
func (w *waiter) Invoke(_ []actor.Envelope) {}
func (w *waiter) Shutdown()                 {}

// Ask sends the message build makes (given the PID to answer to) to pid and
// waits for one answer or ctx's end. Never call it from inside an actor.
func (s *System) Ask(ctx context.Context, pid *actor.PID, build func(replyTo *actor.PID) any) (any, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	w := &waiter{pid: actor.NewPID(s.Engine.Address(), "ask/"+hex.EncodeToString(b)), ch: make(chan any, 1)}
	s.Engine.SpawnProc(w)
	defer s.Engine.Registry.Remove(w.pid)
	s.Engine.Send(pid, build(w.pid))
	select {
	case m := <-w.ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
