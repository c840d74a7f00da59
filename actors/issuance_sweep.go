package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/senim-kz/senim/domain/issuance"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// errFirst stops a read after the first record.
var errFirst = errors.New("first record read")

// SweepIssuance asks every unfinished application started more than
// Rules.ExpireAfter ago (Rules.UnverifiedExpireAfter while its phone is
// not verified) to expire (not one at the CA: its outcome is the
// CA's), and returns how many did. Like SweepIdle it reads the log's
// issuance_phase index, not timers that a restart would lose, and the
// application still decides.
//
// It blocks while the applications answer: never call it from an actor.
func (s *System) SweepIssuance(ctx context.Context) (int, error) {
	if s.issuance == nil {
		return 0, nil
	}
	rules, now := s.issuanceDeps.Rules, s.deps.Now()
	expired := 0
	for _, ph := range []issuance.Phase{issuance.PhasePhone, issuance.PhaseRegistrationWaiting, issuance.PhaseRegistrationCall,
		issuance.PhaseIdentity, issuance.PhaseModeration, issuance.PhaseApplication, issuance.PhaseApprovals, issuance.PhaseIdentified} {
		// The phone is verified in every phase after the phone's: the
		// core's rules give each phase its time (shorter unverified).
		unverified := ph == issuance.PhasePhone || ph == issuance.PhaseRegistrationWaiting || ph == issuance.PhaseRegistrationCall
		after := rules.ExpiresAfter(&issuance.State{Phase: ph, PhoneVerified: !unverified})
		if after <= 0 {
			continue
		}
		streams, err := s.deps.Log.Lookup(IndexIssuancePhase, string(ph))
		if err != nil {
			return expired, fmt.Errorf("actors: issuance sweep: %w", err)
		}
		for _, st := range streams {
			if ctx.Err() != nil {
				return expired, ctx.Err()
			}
			var first eventlog.Record
			if err := s.deps.Log.Read(st, 1, func(r eventlog.Record) error { first = r; return errFirst }); err != nil && !errors.Is(err, errFirst) {
				continue
			}
			if first.Seq == 0 || now.Sub(first.At) < after {
				continue
			}
			id := st[len("issuance/"):]
			ans, err := s.Ask(ctx, s.issuance, func(to *actor.PID) any {
				return IssuanceCommand{AppID: id, CommandID: SystemIDPrefix + "expire", Actor: issuance.Actor{Role: issuance.RoleSystem},
					Cmd: issuance.Expire{}, ReplyTo: to}
			})
			if err != nil {
				return expired, err
			}
			if res := ans.(IssuanceResult); res.Code == "" && !res.Duplicate {
				expired++
				s.deps.Logger.Info().Str("application", id).Msg("application expired")
			}
		}
	}
	return expired, nil
}

// IssuanceSweepEvery runs SweepIssuance every interval until stop closes.
func (s *System) IssuanceSweepEvery(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.issuanceDeps.context(), interval)
		if n, err := s.SweepIssuance(ctx); err != nil {
			s.deps.Logger.Warn().Err(err).Int("expired", n).Msg("sweep of applications stopped early")
		}
		cancel()
	}
}
