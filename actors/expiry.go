package actors

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/act"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// expireIDPrefix starts the ids of expire_act, in the system's namespace.
// The id names the act's sequence number it judged idle, so a repeat after
// a restart is the same command, and an act that moved on gets a new one.
const expireIDPrefix = SystemIDPrefix + "expire-"

// SweepIdle asks every unfinished act whose last event is older than
// Rules.ExpireAfter to expire, and returns how many did.
//
// Why a sweep over the log and not a timer in each act actor: act actors
// come and go (they are spawned on first use and may be passivated when
// idle, which is exactly when an act would need its timer), and a restart
// loses every timer. The log's "phase" index names the unfinished acts
// whatever is in memory, and the last record's time says how long each has
// been idle, without replaying it. The act still decides (expire_act, with
// idle_since from its own last event), so an event that lands between the
// sweep's read and the command wins.
//
// It blocks while the acts answer: call it from a goroutine, never from an
// actor.
func (s *System) SweepIdle(ctx context.Context) (int, error) {
	after := s.deps.Rules.ExpireAfter
	if after <= 0 {
		return 0, nil
	}
	now := s.deps.Now()
	expired := 0
	for _, phase := range []act.Phase{act.PhaseAwaitingConsent, act.PhaseReady, act.PhaseWithNotary} {
		streams, err := s.deps.Log.Lookup("phase", string(phase))
		if err != nil {
			return expired, fmt.Errorf("actors: sweep: %w", err)
		}
		for _, stream := range streams {
			if ctx.Err() != nil {
				return expired, ctx.Err()
			}
			last, ok := lastRecord(s.deps.Log, stream)
			if !ok || now.Sub(last.At) < after {
				continue
			}
			id := strings.TrimPrefix(stream, "act/")
			ans, err := s.Ask(ctx, s.Acts(), func(to *actor.PID) any {
				return ActCommand{ActID: id, CommandID: fmt.Sprintf("%s%d", expireIDPrefix, last.Seq), Actor: act.Actor{Role: act.RoleSystem},
					Name: (act.ExpireAct{}).CommandName(), ReplyTo: to}
			})
			if err != nil {
				return expired, err
			}
			if res := ans.(CommandResult); res.Code == "" && !res.Duplicate {
				expired++
				s.deps.Logger.Info().Str("act", id).Time("idle_since", last.At).Msg("act expired")
			} else if res.Code != "" {
				s.deps.Logger.Info().Str("act", id).Str("code", res.Code).Msg("act not expired")
			}
		}
	}
	return expired, nil
}

// lastRecord reads a stream's last record alone.
func lastRecord(l *eventlog.Log, stream string) (eventlog.Record, bool) {
	seq, _, err := l.Head(stream)
	if err != nil || seq == 0 {
		return eventlog.Record{}, false
	}
	var last eventlog.Record
	found := false
	err = l.Read(stream, seq, func(r eventlog.Record) error {
		last, found = r, true
		return nil
	})
	return last, err == nil && found
}

// SweepEvery runs SweepIdle every interval until stop closes.
func (s *System) SweepEvery(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		done := make(chan struct{})
		go func() { // a stop mid-sweep cancels it: the engine is going away
			select {
			case <-stop:
				cancel()
			case <-done:
			}
		}()
		n, err := s.SweepIdle(ctx)
		close(done)
		cancel()
		if err != nil {
			s.deps.Logger.Warn().Err(err).Int("expired", n).Msg("sweep of idle acts stopped early")
		}
	}
}
