package checkpoint

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/senim-kz/senim/metrics"
	"github.com/senim-kz/senim/persistence/eventlog"
)

// Runner writes a checkpoint every interval, and a last one when stopped.
type Runner struct {
	l    *eventlog.Log
	key  Signer
	now  func() time.Time
	log  zerolog.Logger
	stop chan struct{}
	done chan struct{}
	// state is the checkpoints so far; nil: read them from the log.
	state *State
}

// Start runs checkpoints of l every interval, signed with key.
func Start(l *eventlog.Log, key Signer, interval time.Duration, now func() time.Time, log zerolog.Logger) *Runner {
	r := &Runner{l: l, key: key, now: now, log: log.With().Str("component", "checkpoint").Logger(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.write()
			case <-r.stop:
				return
			}
		}
	}()
	return r
}

// write writes one checkpoint, logging and counting the outcome.
func (r *Runner) write() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if r.state == nil {
		r.state, err = Load(r.l)
	}
	var next *State
	if err == nil {
		next, err = writeAfter(ctx, r.l, r.key, r.now(), r.state)
	}
	switch {
	case err != nil:
		r.state = nil // read the log again next time
		metrics.Checkpoints.WithLabelValues("error").Inc()
		r.log.Error().Err(err).Msg("checkpoint failed")
	case next != nil:
		r.state = next
		st := next.Latest
		metrics.Checkpoints.WithLabelValues("ok").Inc()
		r.log.Info().Uint64("checkpoint", st.Number).Uint64("streams", st.Size).Str("root", st.Root).Msg("checkpoint signed")
	}
}

// Stop ends the loop and writes the last checkpoint; call it before the
// log is closed, after the writers have stopped.
func (r *Runner) Stop() {
	close(r.stop)
	<-r.done
	r.write()
}
