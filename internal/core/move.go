package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ginkit/sessions/driver"
)

// The move between backends. While a previous backend is configured, Load
// moves a session the current backend lacks (moveFromPrevious), and Move
// walks the previous backend with its Scanner and hands every session to
// that same one-session move, so a bulk move and the requests running
// beside it follow one rule.

// moveWorkers is how many sessions MovePrevious moves at a time. Each move
// is a handful of round trips; a few in flight hide their latency without
// loading either backend noticeably.
const moveWorkers = 8

// moveMaxFailuresInARow stops a bulk move whose sessions keep failing (a
// backend down, a wrong DSN), rather than trying every remaining session
// against it.
const moveMaxFailuresInARow = 64

// moveLoggedFailures bounds the per-session warnings a bulk move logs; the
// rest are only counted.
const moveLoggedFailures = 10

// MoveProgress is what Move reports after each session it handles;
// sessions.MoveProgress documents each field.
type MoveProgress struct {
	Done, Total                  int
	Moved, Kept, Skipped, Failed int
}

// MoveStats summarises a bulk move; sessions.MoveStats documents each
// field.
type MoveStats struct {
	Moved, Kept, Skipped, Failed int
	Unreadable                   int
	Remaining                    int
	Duration                     time.Duration
}

// Move moves every live session of the previous backend into the current
// one, in bulk, while requests go on: each session through
// moveFromPrevious, as a returning user's would. The current copy always
// wins (Kept); expired sessions are skipped and those past the absolute
// lifetime deleted; a record that does not open or decode is left in place
// (Failed, Unreadable); 64 store failures in a row stop the move. With a
// progress func it counts first (Total) and reports after every session;
// the calls never overlap. The stats are valid with or without an error;
// errors name sessions by store key, never by ID.
func (e *Engine) Move(ctx context.Context, progress func(MoveProgress)) (MoveStats, error) {
	ctx, begun := e.begin(ctx, OpMove)
	stats, err := e.move(ctx, progress)
	e.count.moves.Add(uint64(stats.Moved))
	e.end(ctx, begun, Done{Op: OpMove, Result: ResultWritten, Count: stats.Moved, Err: err})
	return stats, err
}

func (e *Engine) move(ctx context.Context, progress func(MoveProgress)) (MoveStats, error) {
	start := time.Now()
	stats := MoveStats{Remaining: -1}
	sc, err := e.previousScanner()
	if err != nil {
		return stats, err
	}
	// A previous backend that is the current one would lose every
	// session: each is "already moved", so its only copy is deleted.
	if err := e.checkNotSameStore(ctx); err != nil {
		return stats, err
	}
	total := -1
	if progress != nil {
		n, err := countScanned(ctx, sc)
		if err != nil {
			stats.Duration = time.Since(start)
			return stats, wrap("move", KindStore, fmt.Errorf("count the previous backend: %w", err))
		}
		total = n
	}

	// Each session moves through moveFromPrevious, as on a request; a
	// request racing the bulk move still finds its session, because
	// loadStored looks in the current backend again after the previous
	// one misses.
	mv := &bulkMove{e: e, progress: progress, total: total, stats: &stats}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	mv.cancel = cancel
	keys := make(chan string)
	var wg sync.WaitGroup
	for range moveWorkers {
		wg.Go(func() {
			for key := range keys {
				mv.one(runCtx, key)
			}
		})
	}
	scanErr := sc.Scan(runCtx, func(key string) error {
		select {
		case keys <- key:
			return nil
		case <-runCtx.Done():
			return runCtx.Err()
		}
	})
	close(keys)
	wg.Wait()
	if progress != nil {
		progress(mv.snapshot())
	}

	// The final count runs on ctx, not runCtx: after a stop for failures in
	// a row it still tells the operator what is left.
	if ctx.Err() == nil {
		if n, err := countScanned(ctx, sc); err == nil {
			stats.Remaining = n
		}
	}
	stats.Duration = time.Since(start)

	switch {
	case context.Cause(runCtx) == errTooManyFailures:
		return stats, wrap("move", KindStore, fmt.Errorf("stopped after %d failures in a row (%d moved): %w",
			moveMaxFailuresInARow, stats.Moved, mv.firstErr))
	case ctx.Err() != nil:
		return stats, wrap("move", KindCanceled, fmt.Errorf("interrupted after %d sessions (%d moved): %w", mv.done(), stats.Moved, ctx.Err()))
	case scanErr != nil:
		return stats, wrap("move", KindStore, fmt.Errorf("scan the previous backend: %w", scanErr))
	case stats.Failed > 0:
		return stats, wrap("move", KindStore, fmt.Errorf("%d of %d sessions stay in the previous backend; first: %w", stats.Failed, mv.done(), mv.firstErr))
	}
	return stats, nil
}

// errTooManyFailures is the cancel cause of a move stopped by failures in
// a row.
var errTooManyFailures = errors.New("too many failures in a row")

// errUnreadable marks a session left in place because its record does not
// open or decode.
var errUnreadable = errors.New("the record does not open or decode with these keys (SESSION_ENCRYPTION_KEYS)")

// previousScanner returns the previous backend as a Scanner, or an error
// that says why a bulk move cannot run.
func (e *Engine) previousScanner() (driver.Scanner, error) {
	if e.prev == nil {
		return nil, fail("move", KindConfig, "no previous backend is configured (SESSION_DSN_PREVIOUS)")
	}
	sc, ok := e.prev.(driver.Scanner)
	if !ok {
		return nil, &Error{Op: "move", Kind: KindUnsupported, Err: fmt.Errorf("the previous backend (%T) cannot enumerate its sessions; they move as their users return", e.prev)}
	}
	return sc, nil
}

// bulkMove is the shared state of one MovePrevious run.
type bulkMove struct {
	e        *Engine
	progress func(MoveProgress)
	total    int
	cancel   context.CancelCauseFunc

	mu       sync.Mutex
	stats    *MoveStats
	inARow   int
	firstErr error
	logged   int
}

// outcome of one session.
type moveOutcome int

const (
	outMoved moveOutcome = iota
	outKept
	outSkipped
	outFailed
)

// one moves the session under key and records the outcome.
func (mv *bulkMove) one(ctx context.Context, key string) {
	if ctx.Err() != nil {
		return
	}
	out, err := mv.moveKey(ctx, key)
	if err != nil && ctx.Err() != nil {
		return // interrupted mid-session: not a failure of the session
	}
	mv.mu.Lock()
	defer mv.mu.Unlock()
	switch out {
	case outMoved:
		mv.stats.Moved++
	case outKept:
		mv.stats.Kept++
	case outSkipped:
		mv.stats.Skipped++
	case outFailed:
		mv.stats.Failed++
		if errors.Is(err, errUnreadable) {
			mv.stats.Unreadable++
		}
		if mv.firstErr == nil {
			mv.firstErr = err
		}
		if mv.logged < moveLoggedFailures {
			mv.logged++
			mv.e.opts.Logger.Warn("sessions: move: a session could not be moved; it stays in the previous backend", "error", err)
		}
	}
	switch {
	case out != outFailed:
		mv.inARow = 0
	case !errors.Is(err, errUnreadable): // a store error, not a bad record
		mv.inARow++
		if mv.inARow >= moveMaxFailuresInARow {
			mv.cancel(errTooManyFailures)
		}
	}
	if mv.progress != nil {
		mv.progress(mv.snapshotLocked())
	}
}

// moveKey moves one session. Errors name the store key (a hash), never an
// ID, and say which step failed.
func (mv *bulkMove) moveKey(ctx context.Context, key string) (moveOutcome, error) {
	e := mv.e
	// The current copy wins: requests write to it.
	cur, _, _, err := e.driver.Load(ctx, key)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: load from the current backend: %w", key, err)
	}
	if cur != nil {
		old, _, _, err := e.prev.Load(ctx, key)
		if err != nil {
			return outFailed, fmt.Errorf("session %s: load from the previous backend: %w", key, err)
		}
		if isTombstone(old) {
			// Ended while a request was copying it: the copy goes too.
			if _, err := e.endKey(ctx, key, "", endAny); err != nil {
				return outFailed, fmt.Errorf("session %s: ended during its move; end the copy: %w", key, err)
			}
			return outSkipped, nil
		}
		if old != nil {
			if err := e.prev.Delete(ctx, key); err != nil {
				return outFailed, fmt.Errorf("session %s: already in the current backend; delete the old copy: %w", key, err)
			}
		}
		return outKept, nil
	}
	rec, _, _, err := e.prev.Load(ctx, key)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: load from the previous backend: %w", key, err)
	}
	if rec == nil || isTombstone(rec) {
		return outSkipped, nil // expired, ended or moved by a request since the scan
	}
	r, err := e.decode(key, rec)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: %w", key, errUnreadable)
	}
	if e.pastAbsolute(r.Created) {
		if err := e.prev.Delete(ctx, key); err != nil {
			return outFailed, fmt.Errorf("session %s: past its absolute lifetime; delete it: %w", key, err)
		}
		return outSkipped, nil
	}
	ok, err := e.moveFromPrevious(ctx, key)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: %w", key, err)
	}
	if !ok {
		return outSkipped, nil // expired in between
	}
	return outMoved, nil
}

func (mv *bulkMove) done() int {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return mv.stats.Moved + mv.stats.Kept + mv.stats.Skipped + mv.stats.Failed
}

func (mv *bulkMove) snapshot() MoveProgress {
	mv.mu.Lock()
	defer mv.mu.Unlock()
	return mv.snapshotLocked()
}

func (mv *bulkMove) snapshotLocked() MoveProgress {
	s := mv.stats
	return MoveProgress{Done: s.Moved + s.Kept + s.Skipped + s.Failed, Total: mv.total,
		Moved: s.Moved, Kept: s.Kept, Skipped: s.Skipped, Failed: s.Failed}
}

// countScanned counts the keys sc passes.
func countScanned(ctx context.Context, sc driver.Scanner) (int, error) {
	n := 0
	err := sc.Scan(ctx, func(string) error { n++; return nil })
	return n, err
}

// moveFromPrevious copies the session under key from the previous backend
// to the current one, keeping its remaining lifetime exactly (the record
// bytes move unchanged, so its creation time and absolute deadline do
// too), enters it in the current backend's user index, and deletes the old
// copy. It reports whether the current backend now holds the session.
//
// It copies only what still exists at the moment of the copy: after
// writing the copy it looks at the old one again, and if that was ended
// meanwhile (a Destroy, a revocation or a renewal leaves a tombstone in
// the previous backend before it ends the current copy: endPrevious) it
// deletes its copy, so a move racing an end can never bring the session
// back. Only the mover whose copy was written deletes the old one; a bulk
// move deletes an old copy only once the current backend holds it.
func (e *Engine) moveFromPrevious(ctx context.Context, key string) (bool, error) {
	for range moveAttempts {
		moved, retry, err := e.moveOnce(ctx, key)
		if !retry {
			return moved, err
		}
	}
	return false, nil
}

// moveAttempts bounds the copies moveFromPrevious makes of a session that
// an instance still writing to the previous backend keeps changing.
const moveAttempts = 3

// moveOnce is one try of moveFromPrevious; retry reports that the old
// copy changed while it was copied, and the copy was undone.
func (e *Engine) moveOnce(ctx context.Context, key string) (moved, retry bool, err error) {
	rec, ver, exp, err := e.prev.Load(ctx, key)
	if err != nil {
		return false, false, wrap("load from the previous backend", KindStore, err)
	}
	if rec == nil || isTombstone(rec) {
		return false, false, nil
	}
	ttl := e.opts.Lifetime
	if !exp.IsZero() {
		ttl = time.Until(exp)
	}
	if ttl < time.Millisecond {
		return false, false, nil
	}
	if r, err := e.decode(key, rec); err == nil && r.Meta.User != "" && e.index != nil {
		until := r.Meta.IndexedUntil
		if until.Before(time.Now().Add(ttl)) {
			until = time.Now().Add(ttl + e.opts.Lifetime)
		}
		if err := e.index.IndexUser(ctx, UserKey(r.Meta.User), key, until); err != nil {
			return false, false, wrap("move from the previous backend", KindStore, err)
		}
	}
	// The deadline, not a duration measured before the index round trip,
	// is what carries over.
	if !exp.IsZero() {
		if ttl = time.Until(exp); ttl < time.Millisecond {
			return false, false, nil
		}
	}
	written, err := e.driver.Save(ctx, key, rec, 0, ttl)
	if err != nil {
		return false, false, wrap("move from the previous backend", KindStore, err)
	}
	if !written {
		// Another request moved it first; it deletes the old copy.
		return true, false, nil
	}
	again, againVer, _, err := e.prev.Load(ctx, key)
	switch {
	case again == nil && err == nil:
		// Deleted by a bulk move that found this copy (an end leaves a
		// tombstone there instead), or expired with it.
		return true, false, nil
	case err != nil || isTombstone(again) || againVer != ver:
		// Ended (or changed by an instance still writing there) while it
		// was copied, or unknown: the copy must not outlive the original.
		if derr := e.driver.Delete(ctx, key); derr != nil {
			return false, false, wrap("move from the previous backend", KindStore, derr)
		}
		if err != nil {
			return false, false, wrap("load from the previous backend", KindStore, err)
		}
		return false, !isTombstone(again), nil
	}
	// If the delete fails the old copy is only read again after the new
	// one is gone, and Destroy deletes both.
	if err := e.prev.Delete(ctx, key); err != nil {
		e.opts.Logger.Warn("sessions: a session moved to the new backend could not be deleted from the previous one", "error", err)
	}
	return true, false, nil
}
