package sqltest

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
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

	held := id
	call := func(r Response) suite.Call {
		if r.Cookie != "" {
			held = r.Cookie
		}
		c := suite.Call{Status: r.Status, Body: r.Body, Held: held, Start: r.Start, Took: r.Took}
		if r.Cookie != "" {
			c.Cookie = &http.Cookie{Value: r.Cookie}
		}
		return c
	}
	st := suite.StartStream(math.MaxInt, 90*time.Second,
		func(k, v string) suite.Call { return call(a.Do("PUT", "/kv/"+k+"?v="+v, held)) },
		func(k string) suite.Call { return call(a.Do("GET", "/kv/"+k, held)) })
	t.Cleanup(func() { st.Halt() })
	okWrites := func(after time.Time) func(suite.Call) bool {
		return func(c suite.Call) bool { return c.Write && c.OK() && c.Start.After(after) }
	}
	if !suite.WaitUntil(20*time.Second, func() bool { return st.Count(okWrites(time.Time{})) >= 10 }) {
		t.Fatalf("only %d successful writes before the outage", st.Count(okWrites(time.Time{})))
	}

	target.Stop()
	// A write that began before Stop returned may have finished before
	// the database went away (Stop waits for the server to exit, or for
	// SQLite's lock); only writes that began after it must fail.
	downAt := time.Now()
	attempted := func(c suite.Call) bool { return c.Write && c.Start.After(downAt) }
	if !suite.WaitUntil(30*time.Second, func() bool { return st.Count(attempted) >= 3 }) {
		t.Fatalf("only %d writes attempted in the 30s after the stop: the stream hangs", st.Count(attempted))
	}
	restartAt := time.Now()
	target.Restart(t)
	if !suite.WaitUntil(30*time.Second, func() bool { return st.LastWritesOK(3, restartAt) }) {
		calls := st.Calls()
		t.Fatalf("no three successful writes in a row within 30s of the restart; the last call: %d %s",
			calls[len(calls)-1].Status, calls[len(calls)-1].Body)
	}
	calls := st.Halt()

	outage, failed := 0, 0
	for _, c := range calls {
		switch {
		case c.Write && c.Status != http.StatusOK && c.Status < 500:
			t.Errorf("PUT %s: status %d; want 200 or a 5xx", c.Key, c.Status)
		case !c.Write && c.Status != http.StatusOK && c.Status != http.StatusNotFound && c.Status < 500:
			t.Errorf("GET %s: status %d; want 200, 404 or a 5xx", c.Key, c.Status)
		}
		if c.Write && !c.OK() {
			if strings.Contains(c.Body, `"saved"`) {
				t.Errorf("PUT %s: a failed save answered %d with the handler's success body", c.Key, c.Status)
			}
			if c.Cookie != nil {
				t.Errorf("PUT %s: a failed save set the session cookie", c.Key)
			}
		}
		if c.Write && c.Start.After(downAt) && c.End().Before(restartAt) {
			outage++
			if c.OK() {
				t.Errorf("PUT %s while the database was down answered %d: a false success", c.Key, c.Status)
			} else {
				failed++
			}
		}
	}
	if outage < 3 {
		t.Errorf("only %d writes ran entirely during the outage; want at least 3", outage)
	}
	if errs := a.Errs.All(); len(errs) < failed {
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
		if c.Held != id {
			t.Fatalf("the client was moved to another session during the outage")
		}
		if c.Write && c.OK() {
			acked++
			if v, ok := sessions.SnapshotValue[string](final, c.Key); !ok || v != c.Value {
				t.Errorf("PUT %s answered 200 but the store holds %q, %v", c.Key, v, ok)
			}
		}
	}
	t.Logf("%d acknowledged writes, all in the final session", acked)
}
