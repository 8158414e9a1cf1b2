package sessions

import (
	"context"
	"errors"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// Moving sessions between backends, and the bulk tools sessionctl is
// built on. The move itself is the engine's (internal/core/move.go): the
// same one-session move the middleware performs when a user comes back,
// so a bulk move and the requests running beside it follow one rule.

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
// holds it (a request that missed the session in the current backend just
// before the copy, and then in the previous one just after the delete,
// looks in the current backend again and finds it). The current backend is never overwritten: a session it already
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
	if m.ownPrev && isMemoryDSN(m.cfg.PreviousDSN) {
		return MoveStats{Remaining: -1}, errors.New("sessions: move: a memory:// previous backend opened here is new and empty; nothing can be moved from it")
	}
	var report func(core.MoveProgress)
	if progress != nil {
		report = func(p core.MoveProgress) { progress(MoveProgress(p)) }
	}
	stats, err := m.eng.Move(ctx, report)
	return MoveStats(stats), err
}

// CountSessions returns how many live sessions d holds, by enumerating
// them with its Scanner; it reads no record and changes nothing. On a
// store nobody writes to the count is exact; while requests run it is a
// moment's estimate (and Redis' SCAN may pass a key twice). A driver that
// does not implement Scanner (memcached) is an error that says so.
//
// It takes a Driver rather than a Manager so that it works on any backend
// (the previous one during a move, one no Manager is configured for) with
// no keys or Config; open its DSN with Open. An
// in-process memory driver counts only its own process's sessions.
func CountSessions(ctx context.Context, d Driver) (int, error) { return core.Count(ctx, d) }

// PurgeSessions deletes every session d holds, enumerating them with its
// Scanner, and returns how many it deleted. Sessions created while it runs
// may survive. Every user logged in through d is logged out; requests in
// flight then start new sessions rather than recreate the old ones. User
// index entries that pointed at the deleted sessions are left to expire on
// their own (they are dead, and pruned whenever the index is read). A
// driver that does not implement Scanner (memcached) is an error that
// says so; so is a failed delete, which stops the purge (the count says
// how many were deleted before it).
func PurgeSessions(ctx context.Context, d Driver) (int, error) { return core.Purge(ctx, d) }
