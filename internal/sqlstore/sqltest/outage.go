package sqltest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions"
)

// OutageTimeout is the per-operation timeout an Outage test's driver
// should have (DSN timeout=500ms), so requests fail fast while the
// database is away.
const OutageTimeout = 500 * time.Millisecond

// Target is a database that an Outage test stops and starts again.
type Target struct {
	Open    Opener             // a driver with OutageTimeout
	Stop    func()             // stops (kills) the database server
	Restart func(t *testing.T) // starts it again on the same port and data, and waits for it
}

// call is one request of the stream.
type call struct {
	Response
	write      bool
	key, value string
	held       string // the session ID the client held after the response
}

func (c call) ok() bool       { return c.Status >= 200 && c.Status < 300 }
func (c call) end() time.Time { return c.Start.Add(c.Took) }

// stream writes a new key and reads it back, one request after another,
// as a browser holding the session cookie would, until halted.
type stream struct {
	mu    sync.Mutex
	calls []call
	stop  chan struct{}
	done  chan struct{}
}

func (s *stream) add(c call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func (s *stream) snapshot() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

func (s *stream) count(f func(call) bool) int {
	n := 0
	for _, c := range s.snapshot() {
		if f(c) {
			n++
		}
	}
	return n
}

func (s *stream) halt() []call {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return s.snapshot()
}

// Outage stops the database in the middle of a stream of writes and reads
// of one session through a middleware app, then starts it again on the
// same port, without restarting the app. While the database is down every
// write answers 5xx (never the handler's 2xx, never a cookie); once it is
// back the same driver serves again; every acknowledged write, and the
// data from before the outage, is in the session the client still holds.
func Outage(t *testing.T, target Target) {
	a := NewApp(t, target.Open(t))
	seed := a.Do("PUT", "/kv/seed?v=before", "")
	if seed.Status != http.StatusOK || seed.Cookie == "" {
		t.Fatalf("seeding: %d %s", seed.Status, seed.Body)
	}
	id := seed.Cookie

	st := &stream{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(st.done)
		held := id
		end := time.Now().Add(90 * time.Second)
		for i := 0; time.Now().Before(end); i++ {
			select {
			case <-st.stop:
				return
			default:
			}
			k, v := fmt.Sprintf("w%04d", i), fmt.Sprintf("v%04d", i)
			w := a.Do("PUT", "/kv/"+k+"?v="+v, held)
			if w.Cookie != "" {
				held = w.Cookie
			}
			st.add(call{Response: w, write: true, key: k, value: v, held: held})
			r := a.Do("GET", "/kv/"+k, held)
			st.add(call{Response: r, key: k, value: v, held: held})
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { st.halt() })
	okWrites := func(after time.Time) func(call) bool {
		return func(c call) bool { return c.write && c.ok() && c.Start.After(after) }
	}
	if !waitUntil(20*time.Second, func() bool { return st.count(okWrites(time.Time{})) >= 10 }) {
		t.Fatalf("only %d successful writes before the outage", st.count(okWrites(time.Time{})))
	}

	target.Stop()
	// A write that began before Stop returned may have finished before
	// the database went away (Stop waits for the server to exit, or for
	// SQLite's lock); only writes that began after it must fail.
	downAt := time.Now()
	attempted := func(c call) bool { return c.write && c.Start.After(downAt) }
	if !waitUntil(30*time.Second, func() bool { return st.count(attempted) >= 3 }) {
		t.Fatalf("only %d writes attempted in the 30s after the stop: the stream hangs", st.count(attempted))
	}
	restartAt := time.Now()
	target.Restart(t)
	recovered := func() bool {
		calls, n := st.snapshot(), 0
		for i := len(calls) - 1; i >= 0 && n < 3; i-- {
			if calls[i].write {
				if !calls[i].ok() || !calls[i].Start.After(restartAt) {
					return false
				}
				n++
			}
		}
		return n == 3
	}
	if !waitUntil(30*time.Second, recovered) {
		calls := st.snapshot()
		t.Fatalf("no three successful writes in a row within 30s of the restart; the last call: %d %s",
			calls[len(calls)-1].Status, calls[len(calls)-1].Body)
	}
	calls := st.halt()

	outage, failed := 0, 0
	for _, c := range calls {
		switch {
		case c.write && c.Status != http.StatusOK && c.Status < 500:
			t.Errorf("PUT %s: status %d; want 200 or a 5xx", c.key, c.Status)
		case !c.write && c.Status != http.StatusOK && c.Status != http.StatusNotFound && c.Status < 500:
			t.Errorf("GET %s: status %d; want 200, 404 or a 5xx", c.key, c.Status)
		}
		if c.write && !c.ok() {
			if strings.Contains(c.Body, `"saved"`) {
				t.Errorf("PUT %s: a failed save answered %d with the handler's success body", c.key, c.Status)
			}
			if c.Cookie != "" {
				t.Errorf("PUT %s: a failed save set the session cookie", c.key)
			}
		}
		if c.write && c.Start.After(downAt) && c.end().Before(restartAt) {
			outage++
			if c.ok() {
				t.Errorf("PUT %s while the database was down answered %d: a false success", c.key, c.Status)
			} else {
				failed++
			}
		}
	}
	if outage < 3 {
		t.Errorf("only %d writes ran entirely during the outage; want at least 3", outage)
	}
	if errs := a.Errors(); len(errs) < failed {
		t.Errorf("the error handler saw %d errors for %d failed writes", len(errs), failed)
	}
	t.Logf("%d writes during the outage, %d failed; %d calls in all", outage, failed, len(calls))

	// The database kept its data: same session all along, every
	// acknowledged write in it, the seed intact.
	final := a.Snapshot(t, id)
	if final == nil {
		t.Fatal("the session is missing after the restart")
	}
	if v, ok := sessions.SnapshotValue[string](final, "seed"); !ok || v != "before" {
		t.Errorf("seed after the restart = %q, %v; want %q", v, ok, "before")
	}
	acked := 0
	for _, c := range calls {
		if c.held != id {
			t.Fatalf("the client was moved to another session during the outage")
		}
		if c.write && c.ok() {
			acked++
			if v, ok := sessions.SnapshotValue[string](final, c.key); !ok || v != c.value {
				t.Errorf("PUT %s answered 200 but the store holds %q, %v", c.key, v, ok)
			}
		}
	}
	t.Logf("%d acknowledged writes, all in the final session", acked)
}

// waitUntil polls check every 20ms until it reports true or within
// passes, and reports whether it succeeded.
func waitUntil(within time.Duration, check func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
