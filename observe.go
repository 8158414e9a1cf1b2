package sessions

import (
	"context"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// Stats is a snapshot of a Manager's cumulative counters, in the spirit of
// sql.DBStats: each counts logical operations of the engine since the
// Manager was made, all front ends (middleware, gin-contrib adapter, admin
// operations) together. A reload inside a save is part of the save, not a
// load of its own.
type Stats struct {
	// Loads counts session loads: a request's first use of its session
	// (with a well-formed cookie), or an adapter's New.
	Loads uint64
	// Hits counts the loads that found a live record.
	Hits uint64
	// Misses counts the loads of an ID the store did not know (unknown,
	// expired, revoked, or a record that did not open or decode).
	Misses uint64
	// LoadErrors counts loads the store could not answer.
	LoadErrors uint64

	// Saves counts records written by a save (the merge loop).
	Saves uint64
	// SaveConflicts counts conditional writes that found a newer version
	// and were retried after merging again.
	SaveConflicts uint64
	// SaveErrors counts saves that failed (nothing was claimed).
	SaveErrors uint64

	// Touches counts idle-deadline extensions of unchanged sessions.
	Touches uint64
	// TouchErrors counts extensions that failed (the response stood).
	TouchErrors uint64

	// Refreshes counts sessions given a new ID (Refresh).
	Refreshes uint64
	// Destroys counts sessions ended by a logout (Destroy).
	Destroys uint64
	// Revocations counts sessions ended by RevokeUser, RevokeSession,
	// RevokeOtherSessions and the per-user cap (MaxSessionsPerUser).
	Revocations uint64
	// Moves counts sessions moved from the previous backend in bulk.
	Moves uint64

	// FailedResponses counts responses turned into an error status
	// because their save failed.
	FailedResponses uint64

	// Unreadable counts stored records that did not open or decode (a key
	// this instance does not have yet during a rotation, corruption,
	// tampering). Each read as no session and was left in place; they are
	// also counted in Misses. A rise during a rolling deploy means some
	// instance lacks the newest key.
	Unreadable uint64
}

// Stats returns a snapshot of the Manager's counters. It is cheap enough
// to call on every scrape of a metrics endpoint.
func (m *Manager) Stats() Stats { return Stats(m.eng.Stats()) }

// Op names a logical store operation.
type Op string

// The operations an Observer is told of.
const (
	OpLoad    Op = core.OpLoad    // load a request's session
	OpSave    Op = core.OpSave    // merge-save, with its attempts and conflicts
	OpTouch   Op = core.OpTouch   // extend an unchanged session's idle deadline
	OpRefresh Op = core.OpRefresh // give a session a new ID
	OpDestroy Op = core.OpDestroy // end a session (logout)
	OpRevoke  Op = core.OpRevoke  // end a user's sessions
	OpMove    Op = core.OpMove    // move sessions from the previous backend in bulk
)

// Event describes one finished operation to an Observer. It never holds a
// session ID, a store key or a value.
type Event struct {
	Op      Op
	Backend string // the backend's scheme: "memory", "redis", …
	// Result is "hit" or "miss" (load), "written" (the operation did
	// what it was asked), "no_change" (a save with nothing to store, a
	// touch with nothing to extend) or "error".
	Result   string
	Duration time.Duration
	// Attempts is how many conditional writes a save tried; Conflicts how
	// many of them found a newer version and were merged again.
	Attempts, Conflicts int
	// Count is how many sessions a revoke or a move ended or moved.
	Count int
	// Err is the error, or nil; ErrorType its ErrorType.
	Err       error
	ErrorType string
}

// Observer is told of every logical store operation of a Manager
// (Config.Observer): OperationStart when it begins, with the request's
// context, and OperationEnd when it ends. The context OperationStart
// returns is the one the operation and the driver use, and the one
// OperationEnd gets: a tracer puts its span there, so a driver's own
// instrumented client (a rueidis client wrapped for tracing) nests its
// spans under it. Both must be safe for concurrent use and quick; they
// run on the request's path. Package otelsessions implements one for
// OpenTelemetry.
type Observer interface {
	OperationStart(ctx context.Context, op Op, backend string) context.Context
	OperationEnd(ctx context.Context, ev Event)
}

// ErrorType returns a short, low-cardinality word for an error of this
// package, fit for a metric attribute (OpenTelemetry's error.type):
// "store", "canceled", "conflict", "oversize", "encode", "decode",
// "expired", "no_index", "no_session", "headers_sent", "unsupported" or
// "config"; "" for nil. An error from elsewhere is "store".
func ErrorType(err error) string { return string(core.KindOf(err)) }

// hook adapts an Observer to the engine's Hook.
type hook struct {
	obs     Observer
	backend string
}

func (h hook) Begin(ctx context.Context, op string) context.Context {
	return h.obs.OperationStart(ctx, Op(op), h.backend)
}

func (h hook) End(ctx context.Context, d core.Done) {
	h.obs.OperationEnd(ctx, Event{Op: Op(d.Op), Backend: h.backend, Result: d.Result, Duration: d.Duration,
		Attempts: d.Attempts, Conflicts: d.Conflicts, Count: d.Count, Err: d.Err, ErrorType: string(d.Kind)})
}

// backendName names the backend for events and logs: the DSN's scheme,
// or for a Driver given in the Config, its package's name (the built-in
// drivers' packages are named after their schemes).
func backendName(dsn string, d Driver) string {
	if d == nil {
		if dsn == "" {
			return "memory"
		}
		scheme, _, _ := strings.Cut(dsn, ":")
		return strings.ToLower(scheme)
	}
	t := reflect.TypeOf(d)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := t.PkgPath(); p != "" {
		return path.Base(p)
	}
	return t.String()
}
