package eventlog

import (
	"errors"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Group commit. Appends to different streams that arrive while a synced
// commit is under way are gathered into ONE pebble batch, committed with
// one pebble.Sync when that commit returns. Pebble would group their
// fsyncs too, but each batch on its own costs a trip through its commit
// pipeline (a WAL record, a sequence number, a publish in order, a
// wake-up); at 256 writers that per-batch cost is what kept appends at two
// thirds of raw pebble's rate.
//
// There is no committer goroutine: the append that finds no commit under
// way commits its group itself (so a lone writer pays no hand-off), and
// when it is done it hands the next group, if one gathered meanwhile, to
// one of that group's own appends. Each append's operations enter the
// group as one piece (Batch.Apply of the append's own batch, under the
// group lock), so a group holds whole appends or nothing of one, and the
// group's batch is atomic: all its appends are durable, or none is. Two
// appends to one stream are never in one group: the stream's lock is held
// until its append's group is committed.

// commitGroup is a set of appends committed as one batch.
type commitGroup struct {
	b *pebble.Batch
	// lead hands this group's commit to one of its appends.
	lead chan struct{}
	// done is closed when the group's commit returned, err its result.
	done chan struct{}
	err  error
	// appends counts the appends in the group.
	appends int
}

// groupCommitter gathers appends into groups; see above.
type groupCommitter struct {
	mu sync.Mutex
	// open gathers appends until its leader takes it.
	open *commitGroup
	// busy: a group is being committed, or handed to its leader.
	busy bool
}

var errGroupAbandoned = errors.New("eventlog: the group commit did not complete")

// commitInGroup commits the append's batch b durably, together with the
// appends of other streams that wait at the same time. b stays the
// caller's, to close.
func (l *Log) commitInGroup(b *pebble.Batch) error {
	gc := &l.group
	gc.mu.Lock()
	g := gc.open
	if g == nil {
		g = &commitGroup{b: l.db.NewBatch(), lead: make(chan struct{}, 1), done: make(chan struct{})}
		gc.open = g
	}
	if err := g.b.Apply(b, nil); err != nil {
		// Apply copies first and then walks the copy; a batch built by
		// Append always walks. Were it not so, the group's batch would hold
		// part of this append: fail the whole group rather than commit it.
		gc.mu.Unlock()
		return err
	}
	g.appends++
	if !gc.busy {
		gc.busy = true
		gc.mu.Unlock()
		l.lead(g)
		return g.err
	}
	gc.mu.Unlock()
	select {
	case <-g.done:
	case <-g.lead:
		l.lead(g)
	}
	return g.err
}

// lead commits g, then hands the group gathered meanwhile to one of its
// appends (or marks the committer idle).
func (l *Log) lead(g *commitGroup) {
	gc := &l.group
	gc.mu.Lock()
	if gc.open == g {
		gc.open = nil // later appends gather into the next group
	}
	gc.mu.Unlock()
	committed := false
	defer func() {
		// A commit that panicked (the process is exiting: see commit)
		// must not leave the group's other appends waiting forever.
		if !committed {
			g.err = errGroupAbandoned
		}
		_ = g.b.Close()
		close(g.done)
		gc.mu.Lock()
		if next := gc.open; next != nil {
			next.lead <- struct{}{}
		} else {
			gc.busy = false
		}
		gc.mu.Unlock()
	}()
	g.err = commit(g.b)
	committed = true
	if groupCommitted != nil {
		groupCommitted(g.appends)
	}
}

// groupCommitted, if set, is told the number of appends of each group
// committed (tests).
var groupCommitted func(appends int)
