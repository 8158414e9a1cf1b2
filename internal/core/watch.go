package core

import (
	"context"
	"sync"
	"time"
)

// Watching a session for a long-lived request (WebSocket, SSE): the
// caller (package sessions' watcher) asks, once per interval, for every
// session it watches whether it is still alive, and keeps it alive. The
// check is the load a request does (Load, with its decode and usability
// rules and the move from a previous backend), so whatever makes a
// request see a session as ended — a revocation, a Destroy, a re-key by
// another request, expiry, the absolute lifetime, a record that no longer
// opens — ends a watch the same way.

// WatchStatus is what CheckWatched learned of one session.
type WatchStatus struct {
	// Alive reports that a usable, live record is stored under the key.
	// It is false both when the session ended and when the store could
	// not answer; Err tells them apart.
	Alive bool
	// Expires is the session's idle deadline after the check (moved when
	// the check extended it); zero when the load failed.
	Expires time.Time
	// Err is the load's error (Alive is then unknown), or the error of an
	// extension that failed (Alive is then true and Expires the deadline
	// as loaded). Neither means the session ended.
	Err error
}

// watchWorkers bounds the loads CheckWatched runs at once: one Load per
// key, spread over a few goroutines so that a round over many sessions on
// a remote store takes a few round trips' time, not one per session.
const watchWorkers = 8

// CheckWatched loads the session stored under each of keys, once, and
// extends the idle deadline of every live one whose deadline is stale —
// TouchDue, or less than two intervals left, so that a session checked
// every interval never lapses between two checks — through Touch (for a
// session bound to a user whose index entry would lapse, a full save).
// lifetime is the idle lifetime to extend to, interval how often the
// caller checks. The result has one status per key, in order.
func (e *Engine) CheckWatched(ctx context.Context, keys []string, lifetime, interval time.Duration) []WatchStatus {
	out := make([]WatchStatus, len(keys))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(keys), watchWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = e.checkWatched(ctx, keys[i], lifetime, interval)
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (e *Engine) checkWatched(ctx context.Context, key string, lifetime, interval time.Duration) WatchStatus {
	// NoCookie: no response carries a cookie for what this check writes,
	// so a full save must not record one as sent.
	st := State{Key: key, NoCookie: true}
	found, err := e.Load(ctx, &st)
	if err != nil || !found {
		return WatchStatus{Err: err}
	}
	if e.TouchDue(&st, lifetime) || time.Until(st.Expires) < 2*interval {
		out, err := e.Touch(ctx, &st, lifetime)
		switch {
		case out.ReloadFailed:
			return WatchStatus{Err: err}
		case !st.Exists || st.Key != key:
			// The full save's reload found the record gone: ended. (It
			// started nothing in its place: the delta is empty.)
			return WatchStatus{}
		case err != nil:
			return WatchStatus{Alive: true, Expires: st.Expires, Err: err}
		}
	}
	return WatchStatus{Alive: true, Expires: st.Expires}
}
