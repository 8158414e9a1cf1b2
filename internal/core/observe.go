package core

import (
	"context"
	"sync/atomic"
	"time"
)

// What the engine tells about itself: cumulative counters (Stats), and a
// Hook called at the start and end of each logical operation, for the
// Manager's Observer. Both are counted where the operation happens, once
// per logical operation (a reload inside a save is part of the save). With
// no hook, observing costs a nil check and an atomic add.

// Stats are the engine's cumulative counters; sessions.Stats documents
// each.
type Stats struct {
	Loads, Hits, Misses, LoadErrors         uint64
	Saves, SaveConflicts, SaveErrors        uint64
	Touches, TouchErrors                    uint64
	Refreshes, Destroys, Revocations, Moves uint64
	FailedResponses                         uint64
	Unreadable                              uint64
}

type counters struct {
	loads, hits, misses, loadErrors  atomic.Uint64
	saves, saveConflicts, saveErrors atomic.Uint64
	touches, touchErrors             atomic.Uint64
	refreshes, destroys, revocations atomic.Uint64
	moves, failedResponses           atomic.Uint64
	unreadable                       atomic.Uint64
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	c := &e.count
	return Stats{
		Loads: c.loads.Load(), Hits: c.hits.Load(), Misses: c.misses.Load(), LoadErrors: c.loadErrors.Load(),
		Saves: c.saves.Load(), SaveConflicts: c.saveConflicts.Load(), SaveErrors: c.saveErrors.Load(),
		Touches: c.touches.Load(), TouchErrors: c.touchErrors.Load(),
		Refreshes: c.refreshes.Load(), Destroys: c.destroys.Load(), Revocations: c.revocations.Load(),
		Moves: c.moves.Load(), FailedResponses: c.failedResponses.Load(),
		Unreadable: c.unreadable.Load(),
	}
}

// CountFailedResponse records a response the middleware turned into an
// error status because a save failed.
func (e *Engine) CountFailedResponse() { e.count.failedResponses.Add(1) }

// Operations, as the Hook and the metrics name them.
const (
	OpLoad    = "load"
	OpSave    = "save"
	OpTouch   = "touch"
	OpRefresh = "refresh"
	OpDestroy = "destroy"
	OpRevoke  = "revoke"
	OpMove    = "move"
)

// Results of an operation, for the Hook.
const (
	ResultHit      = "hit"       // load: a live record
	ResultMiss     = "miss"      // load: none (unknown, expired, unusable)
	ResultWritten  = "written"   // save, touch, refresh, destroy, revoke, move: done
	ResultNoChange = "no_change" // save: nothing to store; touch: nothing to extend
	ResultError    = "error"
)

// Done is what a Hook is told at the end of an operation.
type Done struct {
	Op        string
	Result    string
	Duration  time.Duration
	Attempts  int // conditional writes tried (save)
	Conflicts int // of which found a newer version and were retried
	Count     int // sessions handled (revoke, move)
	Err       error
	Kind      Kind // KindOf(Err)
}

// Hook observes the engine's operations. Begin gets the caller's context
// and returns the one the operation (and the driver) uses, so a tracer
// can put its span there; End gets that context back. Both must be safe
// for concurrent use and should be quick.
type Hook interface {
	Begin(ctx context.Context, op string) context.Context
	End(ctx context.Context, d Done)
}

// begin starts observing op: it returns the context to use and the start
// time (zero without a hook, so no clock is read).
func (e *Engine) begin(ctx context.Context, op string) (context.Context, time.Time) {
	if e.opts.Hook == nil {
		return ctx, time.Time{}
	}
	return e.opts.Hook.Begin(ctx, op), time.Now()
}

// end finishes observing; d.Duration and d.Kind are filled in here.
func (e *Engine) end(ctx context.Context, start time.Time, d Done) {
	if e.opts.Hook == nil {
		return
	}
	d.Duration = time.Since(start)
	if d.Err != nil {
		d.Kind = KindOf(d.Err)
		d.Result = ResultError
	}
	e.opts.Hook.End(ctx, d)
}
