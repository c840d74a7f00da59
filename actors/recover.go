package actors

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/anthdm/hollywood/actor"
	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/metrics"
)

// maxRestarts is set on every actor as a second line of defence: Recover
// keeps panics from reaching the engine, so the count should never move.
const maxRestarts = 1 << 30

// Panicked is the reply a sender gets when its message made an actor panic.
// The actor's state is untouched: the panic happened before any append (the
// shell appends only after Decide returned), or the actor rebuilds from the
// log on its next message (see actAct.fail).
type Panicked struct {
	Reason string
}

// Replier is implemented by messages that expect an answer; Recover uses it
// to tell the sender that its message failed.
type Replier interface {
	replyTo() *actor.PID
	failed(reason string) any
}

// PanicCount counts the panics Recover has caught, for metrics and tests.
var PanicCount atomic.Int64

// Recover is a middleware that catches a panic in Receive, logs it with the
// stack, answers the sender of a Replier message with a failure, and lets the
// actor live on. It is installed on every actor this package spawns.
func Recover(log zerolog.Logger) actor.MiddlewareFunc {
	return func(next actor.ReceiveFunc) actor.ReceiveFunc {
		return func(c *actor.Context) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				PanicCount.Add(1)
				metrics.Panics.Inc()
				reason := fmt.Sprint(v)
				log.Error().Str("actor", c.PID().ID).Str("message", fmt.Sprintf("%T", c.Message())).
					Str("panic", reason).Bytes("stack", debug.Stack()).Msg("actor panicked; message refused")
				if r, ok := c.Message().(Replier); ok && r.replyTo() != nil {
					c.Engine().Send(r.replyTo(), r.failed(reason))
				}
				if h, ok := c.Receiver().(interface{ afterPanic() }); ok {
					h.afterPanic()
				}
			}()
			switch c.Message().(type) {
			case ActCommand, Inbound:
				growStack() // the messages whose handling goes deep
			}
			next(c)
		}
	}
}

// spawnOpts are the options every actor gets.
func spawnOpts(log zerolog.Logger, id string) []actor.OptFunc {
	return []actor.OptFunc{
		actor.WithID(id),
		actor.WithMaxRestarts(maxRestarts),
		actor.WithMiddleware(Recover(log)),
	}
}
