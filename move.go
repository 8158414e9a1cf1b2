package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// move.go holds the bulk side of a move between backends: MovePrevious
// walks the previous backend (Config.PreviousDSN) with its Scanner and
// hands every session to moveFromPrevious (store.go), the same one-session
// move the middleware performs when a user comes back, so a bulk move and
// the requests running beside it follow one rule. CountSessions and
// PurgeSessions are the other bulk tools, on any Driver that can
// enumerate. sessionctl (cmd/sessionctl) is built on these three.

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

// MoveProgress is what MovePrevious reports after each session it handles.
type MoveProgress struct {
	// Done is how many session keys the move has handled so far, whatever
	// the outcome: Moved + Kept + Skipped + Failed.
	Done int
	// Total is how many sessions the previous backend held when the move
	// began (by a counting pass), or -1 when it was not counted. It is an
	// estimate: sessions leave the previous backend during the move (users
	// return, sessions expire) and Redis' SCAN may pass a key twice, so
	// Done can end below or above Total. Clamp before drawing a bar.
	Total int
	// Moved, Kept, Skipped and Failed are the running counts of MoveStats.
	Moved, Kept, Skipped, Failed int
}

// MoveStats summarises a bulk move (MovePrevious). Each session key the
// previous backend's Scanner passed is counted in exactly one of Moved,
// Kept, Skipped and Failed.
type MoveStats struct {
	// Moved counts sessions this move copied to the current backend and
	// then deleted from the previous one: the same record bytes (so the same
	// creation time and absolute deadline) with the same remaining idle
	// lifetime, entered in the current backend's user index when bound to
	// a user.
	Moved int
	// Kept counts sessions the current backend already held (a request
	// moved them first, or they were there before the move): the current
	// copy was kept as it is and the previous backend's copy deleted. The
	// current copy always wins, because it is the one requests write to.
	Kept int
	// Skipped counts keys with nothing left to move: the session expired,
	// was ended, or was moved and deleted by a request between the scan
	// and its turn, or it had passed its absolute lifetime (then its old
	// copy was deleted, as a request would delete it).
	Skipped int
	// Failed counts sessions left in the previous backend, where the
	// application still finds and moves them one by one while
	// PreviousDSN is set: a store error, or a record that does not open or
	// decode (see Unreadable).
	Failed int
	// Unreadable counts the Failed sessions whose record does not open or
	// decode with the Manager's Config: usually encrypted records and a
	// Manager without the application's EncryptionKeys
	// (SESSION_ENCRYPTION_KEYS). They are left in place rather than moved
	// without their user-index entry.
	Unreadable int
	// Remaining is how many sessions the previous backend still held when
	// the move ended, by a final counting pass, or -1 if that pass could
	// not run. It is Failed, plus sessions written to the previous backend
	// during the move (by instances still running with the old DSN).
	Remaining int
	// Duration is the wall time of the whole move, counting passes
	// included.
	Duration time.Duration
}

// MovePrevious moves every live session of the previous backend
// (Config.PreviousDSN or PreviousDriver) into the current one, in bulk,
// while the application keeps serving requests. It is what `sessionctl
// migrate` runs; an application may also call it itself after a switch.
//
// Each session moves exactly as it does when its user returns during the
// move: the record is copied unchanged with its exact remaining lifetime
// (so its creation time and absolute deadline carry over), it is entered
// in the current backend's user index if it is bound to a user, and only
// then is the old copy deleted, so at every instant at least one backend
// holds it; the old copy goes two seconds after the new one is written, so
// that a request that looked in the current backend just before the copy
// still finds the old one (MovePrevious returns once those deletes are
// done). The current backend is never overwritten: a session it already
// holds keeps its current copy (the one requests write to), and the old
// copy is deleted (Kept). Expired sessions are skipped; a session past the
// absolute lifetime is deleted. A record that does not open or decode
// with this Manager's Config (encryption keys) is left in place and
// counted as Failed and Unreadable. Other per-session failures are
// counted and the move goes on, except that 64 failures in a row stop it.
//
// The previous backend must enumerate its sessions (implement Scanner):
// file and redis do; memcached cannot, and a PreviousDSN of memory:// opens
// a new, empty in-process store, so both are refused with an error that
// says so, before anything is read. (A memory driver given as
// PreviousDriver can be moved from.) Without a previous backend it is an
// error too. Sessions of a backend that cannot enumerate still move one
// by one as their users return, for as long as PreviousDSN is set.
//
// If progress is not nil, MovePrevious first counts the previous backend's
// sessions (one extra scan) to report a Total, then calls progress after
// every session it handles, and once more at the end. The calls never
// overlap; a slow progress slows the move.
//
// The returned stats are valid with or without an error. The error is nil
// only when every session was handled (Failed is 0); otherwise it says how
// many failed and wraps the first failure, naming the session by its store
// key, never by its ID. When ctx ends, the move stops between sessions and
// returns an error wrapping ctx's; whatever was not moved stays in the
// previous backend, intact.
func (m *Manager) MovePrevious(ctx context.Context, progress func(MoveProgress)) (MoveStats, error) {
	start := time.Now()
	stats := MoveStats{Remaining: -1}
	sc, err := m.previousScanner()
	if err != nil {
		return stats, err
	}
	total := -1
	if progress != nil {
		n, err := countScanned(ctx, sc)
		if err != nil {
			stats.Duration = time.Since(start)
			return stats, fmt.Errorf("sessions: move: count the previous backend's sessions: %w", err)
		}
		total = n
	}

	// Each session moves through moveFromPrevious, as on a request; a
	// request racing the bulk move still finds its session, because
	// loadStored looks in the current backend again after the previous
	// one misses.
	mv := &bulkMove{m: m, progress: progress, total: total, stats: &stats}
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
		return stats, fmt.Errorf("sessions: move: stopped after %d sessions in a row failed to move (is a backend down?); %d moved, the rest stay in the previous backend: %w",
			moveMaxFailuresInARow, stats.Moved, mv.firstErr)
	case ctx.Err() != nil:
		return stats, fmt.Errorf("sessions: move: interrupted after %d sessions (%d moved); the rest stay in the previous backend: %w", mv.done(), stats.Moved, ctx.Err())
	case scanErr != nil:
		return stats, fmt.Errorf("sessions: move: scan the previous backend: %w", scanErr)
	case stats.Failed > 0:
		return stats, fmt.Errorf("sessions: move: %d of %d sessions could not be moved and stay in the previous backend; first: %w", stats.Failed, mv.done(), mv.firstErr)
	}
	return stats, nil
}

// errTooManyFailures is the cancel cause of a move stopped by failures in
// a row.
var errTooManyFailures = errors.New("sessions: move: too many failures in a row")

// errUnreadable marks a session left in place because its record does not
// open or decode.
var errUnreadable = errors.New("the record does not open or decode with this configuration (are SESSION_ENCRYPTION_KEYS / Config.EncryptionKeys the application's?)")

// previousScanner returns the previous backend as a Scanner, or an error
// that says why a bulk move cannot run.
func (m *Manager) previousScanner() (Scanner, error) {
	if m.prev == nil {
		return nil, errors.New("sessions: move: no previous backend is configured (Config.PreviousDSN / SESSION_DSN_PREVIOUS, or Config.PreviousDriver)")
	}
	name := fmt.Sprintf("a %T", m.prev)
	if m.ownPrev {
		name = RedactDSN(m.cfg.PreviousDSN)
		if u, err := url.Parse(m.cfg.PreviousDSN); err == nil && strings.EqualFold(u.Scheme, "memory") {
			return nil, errors.New("sessions: move: the previous backend memory:// is an in-process memory store that this Manager opened itself, so it is new and empty: the sessions of a memory store live only inside the process that created them and end with it; nothing can be moved from it")
		}
	}
	sc, ok := m.prev.(Scanner)
	if !ok {
		return nil, fmt.Errorf("sessions: move: the previous backend %s (driver %T) cannot enumerate its sessions (it does not implement sessions.Scanner; memcached cannot list its keys), so it cannot be moved in bulk: its sessions still move one by one as their users return, for as long as the previous DSN stays set (one Lifetime)", name, m.prev)
	}
	return sc, nil
}

// bulkMove is the shared state of one MovePrevious run.
type bulkMove struct {
	m        *Manager
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
			mv.m.cfg.Logger.Warn("sessions: move: a session could not be moved; it stays in the previous backend", "error", err)
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
	m := mv.m
	// The current copy wins: requests write to it.
	cur, _, _, err := m.driver.Load(ctx, key)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: load from the current backend: %w", key, err)
	}
	if cur != nil {
		if err := m.prev.Delete(ctx, key); err != nil {
			return outFailed, fmt.Errorf("session %s: already in the current backend; delete the old copy: %w", key, err)
		}
		return outKept, nil
	}
	rec, _, _, err := m.prev.Load(ctx, key)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: load from the previous backend: %w", key, err)
	}
	if rec == nil {
		return outSkipped, nil // expired, ended or moved by a request since the scan
	}
	r, err := m.decode(key, rec)
	if err != nil {
		return outFailed, fmt.Errorf("session %s: %w", key, errUnreadable)
	}
	if m.pastAbsolute(r.created) {
		if err := m.prev.Delete(ctx, key); err != nil {
			return outFailed, fmt.Errorf("session %s: past its absolute lifetime; delete it: %w", key, err)
		}
		return outSkipped, nil
	}
	ok, err := m.moveFromPrevious(ctx, key)
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
func countScanned(ctx context.Context, sc Scanner) (int, error) {
	n := 0
	err := sc.Scan(ctx, func(string) error { n++; return nil })
	return n, err
}

// scannerOf returns d as a Scanner, or an error for op that names the
// driver and says it cannot enumerate.
func scannerOf(op string, d Driver) (Scanner, error) {
	if d == nil {
		return nil, fmt.Errorf("sessions: %s: nil driver", op)
	}
	sc, ok := d.(Scanner)
	if !ok {
		return nil, fmt.Errorf("sessions: %s: the driver %T cannot enumerate its sessions (it does not implement sessions.Scanner; memcached cannot list its keys)", op, d)
	}
	return sc, nil
}

// CountSessions returns how many live sessions d holds, by enumerating
// them with its Scanner; it reads no record and changes nothing. On a
// store nobody writes to the count is exact; while requests run it is a
// moment's estimate (and Redis' SCAN may pass a key twice). A driver that
// does not implement Scanner (memcached) is an error that says so.
//
// It takes a Driver rather than a Manager so that it works on any backend
// (the previous one during a move, one no Manager is configured for) with
// no keys or Config; for a Manager's own backend pass m.Driver(). An
// in-process memory driver counts only its own process's sessions.
func CountSessions(ctx context.Context, d Driver) (int, error) {
	sc, err := scannerOf("count", d)
	if err != nil {
		return 0, err
	}
	n, err := countScanned(ctx, sc)
	if err != nil {
		return n, fmt.Errorf("sessions: count: %w", err)
	}
	return n, nil
}

// PurgeSessions deletes every session d holds, enumerating them with its
// Scanner, and returns how many it deleted. Sessions created while it runs
// may survive. Every user logged in through d is logged out; requests in
// flight then start new sessions rather than recreate the old ones. User
// index entries that pointed at the deleted sessions are left to expire on
// their own (they are dead, and pruned whenever the index is read). A
// driver that does not implement Scanner (memcached) is an error that
// says so; so is a failed delete, which stops the purge (the count says
// how many were deleted before it).
func PurgeSessions(ctx context.Context, d Driver) (int, error) {
	sc, err := scannerOf("purge", d)
	if err != nil {
		return 0, err
	}
	n := 0
	err = sc.Scan(ctx, func(key string) error {
		if err := d.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete session %s: %w", key, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("sessions: purge: stopped after deleting %d sessions: %w", n, err)
	}
	return n, nil
}
