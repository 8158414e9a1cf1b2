package sessions

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/internal/core"
)

// Long-lived requests (WebSocket, Server-Sent Events, long polling) watch
// their session: Watch returns a context that ends when the session ends
// anywhere. One watcher goroutine per Manager, started by the first Watch
// and stopped when nothing is watched or the Manager closes, checks every
// watched session once per Config.WatchInterval through the engine
// (core.Engine.CheckWatched: the load a request does, and the touch a
// request does when the idle deadline is stale). Any number of Watch calls
// on one session share one check.

var (
	// ErrSessionEnded is the cause (context.Cause) of a Watch context
	// ended because its session ended: revoked, destroyed, expired, given
	// a new ID by another request — or because the request had no stored
	// session to watch.
	ErrSessionEnded error = &core.Error{Op: "watch", Kind: core.KindNoSession, Err: errors.New("the session ended")}

	// ErrManagerClosed is the cause of a Watch context ended by
	// Manager.Close.
	ErrManagerClosed error = &core.Error{Op: "watch", Kind: core.KindCanceled, Err: errors.New("the session manager was closed")}
)

// errLapsed is the cause of a Watch ended because the session's idle
// deadline passed while the store could not be reached to check or
// extend it.
var errLapsed error = &core.Error{Op: "watch", Kind: core.KindStore,
	Err: errors.New("the session ended: its idle deadline passed while the store did not answer")}

// Watch returns a context for a long-lived request, derived from the
// request's, that is cancelled when the request's session ends anywhere:
// revoked (RevokeUser, RevokeOtherSessions, …), destroyed by another
// request, expired, or given a new ID (Refresh) by another request. The
// session is checked at least every Config.WatchInterval, and a session
// that ends is noticed within about one interval; context.Cause then
// returns ErrSessionEnded. The context also ends with the request's, and
// when the CancelFunc is called, which releases the watch: call it when
// the handler returns (defer cancel()).
//
// While watched, the session is kept alive: its idle deadline is extended
// as a request's would be, so a user sitting in a live page is not logged
// out by the idle timeout (the absolute lifetime still applies). The
// cookie the client holds is not re-sent by a watch: with a persistent
// cookie (not ExpireOnClose), a client that reconnects at least once per
// Lifetime (EventSource does after the stream ends) gets a fresh one.
//
// A store error during a check does not end the watch: it is logged
// (Warn, once per check round) and counted as a failed load, and the
// watch stays as long as the session's last known idle deadline has not
// passed. Once it has, the session may have expired unseen and cannot
// have been extended: the watch ends (its cause says the store did not
// answer).
//
// Watch loads the session if the request has not yet. A request without
// a stored session (none, unknown, or destroyed in this request), one
// whose load failed, a route without the middleware and a closed Manager
// all get an already-cancelled context, whose cause says why. Call Watch
// after any change of the session that gives it a new ID (Refresh,
// SetUser on a new visitor's session is saved only at the response): the
// watch follows the stored session the request has at the call.
func Watch(c *gin.Context) (context.Context, context.CancelFunc) {
	parent := context.Background()
	if c != nil && c.Request != nil {
		parent = c.Request.Context()
	}
	ctx, cancel := context.WithCancelCause(parent)
	s := sessionOf(c)
	if s == nil {
		cancel(ErrNoMiddleware)
		return ctx, func() { cancel(context.Canceled) }
	}
	s.mu.Lock()
	err := s.ensureLoaded()
	key, exists, expires := s.Key, s.Exists, s.Expires
	s.mu.Unlock()
	switch {
	case err != nil:
		s.m.report(c, err)
		cancel(err)
	case !exists || key == "":
		cancel(ErrSessionEnded)
	default:
		s.m.watch.add(s.m, ctx, cancel, key, expires)
	}
	return ctx, func() { cancel(context.Canceled) }
}

// watcher holds a Manager's watched sessions and runs their checks.
type watcher struct {
	mu      sync.Mutex
	entries map[string]*watchEntry // by store key
	closed  bool
	stop    chan struct{}  // closed to stop the running loop; nil when none runs
	loops   sync.WaitGroup // loops not yet returned (a stopped one may be finishing)
}

// watchEntry is one watched session and the Watch contexts on it.
type watchEntry struct {
	key     string
	expires time.Time // the last known idle deadline
	subs    map[*watchSub]struct{}
}

type watchSub struct{ cancel context.CancelCauseFunc }

// add registers a Watch context on key and starts the loop if none runs.
// The registration ends with ctx, whatever ends it.
func (w *watcher) add(m *Manager, ctx context.Context, cancel context.CancelCauseFunc, key string, expires time.Time) {
	sub := &watchSub{cancel: cancel}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		cancel(ErrManagerClosed)
		return
	}
	if w.entries == nil {
		w.entries = make(map[string]*watchEntry)
	}
	ent := w.entries[key]
	if ent == nil {
		ent = &watchEntry{key: key, expires: expires, subs: make(map[*watchSub]struct{})}
		w.entries[key] = ent
	}
	ent.subs[sub] = struct{}{}
	if w.stop == nil {
		w.stop = make(chan struct{})
		w.loops.Add(1)
		go w.loop(m, w.stop)
	}
	w.mu.Unlock()
	context.AfterFunc(ctx, func() { w.remove(ent, sub) })
}

// remove drops sub from ent, ent when it has no more subscribers, and
// stops the loop when nothing is watched any more.
func (w *watcher) remove(ent *watchEntry, sub *watchSub) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(ent.subs, sub)
	if len(ent.subs) == 0 && w.entries[ent.key] == ent {
		delete(w.entries, ent.key)
	}
	if len(w.entries) == 0 {
		w.stopLocked()
	}
}

// stopLocked signals the running loop, if any, to return. Called with
// w.mu held.
func (w *watcher) stopLocked() {
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
}

// close ends every watch with ErrManagerClosed, refuses new ones and
// waits for the loop to return.
func (w *watcher) close() {
	w.mu.Lock()
	w.closed = true
	var subs []*watchSub
	for _, ent := range w.entries {
		for sub := range ent.subs {
			subs = append(subs, sub)
		}
	}
	w.entries = nil
	w.stopLocked()
	w.mu.Unlock()
	for _, sub := range subs {
		sub.cancel(ErrManagerClosed)
	}
	w.loops.Wait()
}

// loop checks every watched session once per WatchInterval until stop
// is closed.
func (w *watcher) loop(m *Manager, stop <-chan struct{}) {
	defer w.loops.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	interval := max(m.cfg.WatchInterval, time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		w.round(ctx, m, interval)
	}
}

// round checks every watched session once and ends the watches of those
// that ended.
func (w *watcher) round(ctx context.Context, m *Manager, interval time.Duration) {
	w.mu.Lock()
	ents := make([]*watchEntry, 0, len(w.entries))
	keys := make([]string, 0, len(w.entries))
	for key, ent := range w.entries {
		ents = append(ents, ent)
		keys = append(keys, key)
	}
	w.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	// A round waits no longer than a few intervals for a store that does
	// not answer; the next one starts after it.
	rctx, cancel := context.WithTimeout(ctx, max(3*interval, 5*time.Second))
	status := m.eng.CheckWatched(rctx, keys, m.cfg.Lifetime, interval)
	cancel()
	if ctx.Err() != nil {
		return // stopped meanwhile: the results may be cut short
	}
	now := time.Now()
	var ended []*watchSub
	var causes []error
	failed := 0
	var firstErr error
	w.mu.Lock()
	for i, ent := range ents {
		st := status[i]
		if st.Err != nil {
			failed++
			if firstErr == nil {
				firstErr = st.Err
			}
		}
		if !st.Expires.IsZero() {
			ent.expires = st.Expires
		}
		var cause error
		switch {
		case !st.Alive && st.Err == nil:
			cause = ErrSessionEnded
		case !now.Before(ent.expires):
			cause = errLapsed
		default:
			continue
		}
		if w.entries[ent.key] == ent {
			delete(w.entries, ent.key)
		}
		for sub := range ent.subs {
			ended = append(ended, sub)
			causes = append(causes, cause)
		}
	}
	w.mu.Unlock()
	for i, sub := range ended {
		sub.cancel(causes[i]) // its AfterFunc finds the entry gone, or stops the loop
	}
	if failed > 0 {
		m.cfg.Logger.Warn("sessions: watch: the store did not answer for some watched sessions; they stay watched until their idle deadline",
			"failed", failed, "watched", len(keys), "error", firstErr)
	}
}

// watchCount reports how many sessions are watched, and whether the
// watcher's loop runs (for tests).
func (w *watcher) watchCount() (sessions int, running bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries), w.stop != nil
}
