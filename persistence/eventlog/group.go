package eventlog

import (
	"errors"
	"slices"
	"strings"
	"sync"
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
// the append that opened it; the others wait for the commit alone. A
// group holds up to maxGroupBytes; past that, appends gather into the next
// one. An append joins a group with all its writes at once (under the
// group lock), and the group's batch is atomic: all its appends are
// durable, or none is. Two appends to one stream are never in one group:
// the stream's lock is held until its append's group is committed.
//
// Tried and left out: letting the next group into pebble's commit while
// the one before syncs, as soon as it held as many appends as that one (so
// that pebble would start the next sync the moment the last returned).
// Measured side by side with one group at a time, at 16 writers it made
// more syncs per append (0.085 and 0.178 against 0.047 and 0.125) and a
// lower ratio to raw pebble (0.81 and 0.69 against 0.95 and 0.93); at 256
// writers no gain showed through the box's noise. Building the batch as
// appends join (no sort, no copy by the leader) showed none either, nor
// did up to 4 or 16 groups in flight at once, of at most 64 or 32 appends
// (ratios at 256 writers 0.66-1.04 against 0.66-0.75 in the same minutes,
// at 16 writers 0.71-1.03 against 0.96-1.09).
//
// Also tried and left out: pebble's ApplyNoSyncWait and Batch.SyncWait,
// the leader handing the commit on to the next group as soon as its batch
// is applied and only then waiting for its sync. It is as safe as
// Commit(pebble.Sync), read in pebble v2.1.7's commitPipeline:
//
//   - visibility: Commit(Sync) publishes a batch (readers see it) as soon
//     as it and the batches before it are applied to the memtable, before
//     its WAL sync; only the committing goroutine waits for the sync
//     (publish, then b.commit.Wait). ApplyNoSyncWait makes nothing
//     visible earlier than that.
//   - our own state: an append returns only after its group's sync
//     (SyncWait), and only then updates the head cache; the stream's lock
//     is held until then, and the command look-up, the command filter and
//     a head read on a cache miss all run under it. So no append of the
//     stream can chain onto, or take as a duplicate, a record not yet
//     synced.
//   - order: the WAL is one file written in commit order (prepare holds
//     the pipeline's lock while it writes), and a sync covers every byte
//     before it; on rotation the old WAL is closed, which syncs it, before
//     the new one is made (DB.rotateWAL), and recovery stops at the first
//     torn record. So a synced batch implies every batch before it, and a
//     later append that read an unsynced record of another stream (any
//     reader can, under either call) is lost with it or survives with it,
//     never alone. (WAL failover, which writes to a second directory, is
//     not enabled.)
//   - one difference: a failed WAL write is pebble's Fatalf inside Commit,
//     but an error from SyncWait; it would have to exit the process too
//     (see commit).
//
// It did not pay: measured with the same binary built both ways, taking
// turns, at 16 and 256 writers, the handed-on commit made more WAL syncs
// per append at 256 writers (0.0044-0.0108 against 0.0021-0.0036, three
// runs each: the next group is closed while it is still small), and its
// ratios to raw pebble (0.45-1.44) did not rise above the box's noise
// (0.68-1.43; a load average of 7-9 on two cores at the time).
//
// The leader writes the group's batch in key order, or nearly: pebble's
// memtable inserts a batch's keys one after the other, remembering where
// the last one went, so keys in order each cost a short search instead of
// one from the top of the skiplist (the memtable insert was the largest
// part of an append's CPU). It sorts the appends by stream, then writes
// the command records ('c'), the events ('e', by stream and seq), the
// heads ('h'), then the index entries ('i', which are few): every kind but
// the last in key order. The order inside a batch means nothing else: a
// group never writes one key twice (every key names its stream), and an
// append's own writes of one kind keep their order.

// batchOp is one write of an append.
type batchOp struct {
	key, value []byte
	del        bool
}

// groupEntry is one append of a group.
type groupEntry struct {
	stream string
	ops    []batchOp
}

// commitGroup is a set of appends committed as one batch.
type commitGroup struct {
	// appends are the writes of each append in the group; size is their
	// bytes.
	appends []groupEntry
	size    int
	// first holds the first append: a lone append's group is one
	// allocation.
	first [1]groupEntry
	// lead hands this group's commit to the append that opened it (the
	// group's leader; the others wait on done alone). It is made only for
	// a group that has to wait for its turn.
	lead chan struct{}
	// done is closed when the group's commit returned, err its result. It
	// is made (under the group lock) by the first append that joins the
	// group, so a group of one append makes none.
	done chan struct{}
	err  error
}

// maxGroupBytes bounds a group: an append that finds the last group this
// full opens the next one, committed after it. Pebble writes a batch
// larger than half its memtable (2 MiB by default) as a memtable of its
// own, which a group of many large appends must not turn into a flush per
// commit. (A variable for tests.)
var maxGroupBytes = 1 << 20

// groupCommitter gathers appends into groups; see above.
type groupCommitter struct {
	mu sync.Mutex
	// queue holds the groups waiting for their commit, oldest first; the
	// last gathers appends until it holds maxGroupBytes. A group leaves
	// the queue when its leader takes it.
	queue []*commitGroup
	// busy: a group is being committed, or handed to its leader. When it
	// is not, the queue is empty.
	busy bool
	// sorted is the leader's buffer (there is one leader at a time).
	sorted []groupEntry
}

var errGroupAbandoned = errors.New("eventlog: the group commit did not complete")

// commitInGroup commits an append's writes durably, together with the
// appends of other streams that wait at the same time. The keys and
// values must not change until it returns.
func (l *Log) commitInGroup(stream string, ops []batchOp) error {
	size := 0
	for _, op := range ops {
		size += len(op.key) + len(op.value)
	}
	gc := &l.group
	gc.mu.Lock()
	var g *commitGroup
	if n := len(gc.queue); n > 0 && gc.queue[n-1].size < maxGroupBytes {
		g = gc.queue[n-1]
	}
	opened := g == nil
	if opened {
		g = &commitGroup{}
		g.appends = g.first[:0]
		if gc.busy {
			g.lead = make(chan struct{}, 1)
		}
		gc.queue = append(gc.queue, g)
	} else if g.done == nil {
		g.done = make(chan struct{})
	}
	g.appends = append(g.appends, groupEntry{stream, ops})
	g.size += size
	if !gc.busy {
		// No commit under way (so the queue was empty: this append opened
		// g): commit it now.
		gc.busy = true
		gc.mu.Unlock()
		l.lead(g)
		return g.err
	}
	done := g.done
	gc.mu.Unlock()
	if opened {
		<-g.lead // the commit before is done: commit this group
		l.lead(g)
	} else {
		<-done
	}
	return g.err
}

// lead commits g, then hands the group gathered meanwhile to one of its
// appends (or marks the committer idle).
func (l *Log) lead(g *commitGroup) {
	gc := &l.group
	gc.mu.Lock()
	// g is the first in the queue: later appends gather into the next.
	gc.queue[0] = nil
	gc.queue = gc.queue[1:]
	// No append joins g from here on: done is what its appends wait on.
	done := g.done
	gc.mu.Unlock()
	committed := false
	defer func() {
		// A commit that panicked (the process is exiting: see commit)
		// must not leave the group's other appends waiting forever.
		if !committed {
			g.err = errGroupAbandoned
		}
		if done != nil {
			close(done)
		}
		gc.mu.Lock()
		if len(gc.queue) > 0 {
			gc.queue[0].lead <- struct{}{}
		} else {
			gc.busy = false
		}
		gc.mu.Unlock()
	}()
	appends := g.appends
	if len(appends) > 1 {
		appends = append(gc.sorted[:0], appends...)
		slices.SortFunc(appends, func(x, y groupEntry) int { return strings.Compare(x.stream, y.stream) })
	}
	n := 0
	for _, a := range appends {
		n += len(a.ops)
	}
	b := l.db.NewBatchWithSize(g.size + 16*n)
	defer b.Close()
	for _, kind := range []byte{'c', 'e', 'h', 'i'} {
		for _, a := range appends {
			for _, op := range a.ops {
				if op.key[0] != kind {
					continue
				}
				var err error
				if op.del {
					err = b.Delete(op.key, nil)
				} else {
					err = b.Set(op.key, op.value, nil)
				}
				if err != nil {
					g.err, committed = err, true
					return
				}
				n--
			}
		}
	}
	if n != 0 {
		// A write of a kind not above would have been left out.
		g.err, committed = errors.New("eventlog: a group held a write of an unknown kind"), true
		return
	}
	if len(g.appends) > 1 {
		clear(appends) // keep no append's bytes alive
		gc.sorted = appends[:0]
	}
	g.err = commit(b)
	committed = true
	if groupCommitted != nil {
		groupCommitted(len(g.appends), g.size)
	}
}

// groupCommitted, if set, is told the number of appends and the bytes of
// each group committed (tests).
var groupCommitted func(appends, size int)
