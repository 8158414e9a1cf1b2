package integration

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/ginkit/sessions"
)

// parallelRequests is the number of concurrent requests of one session.
const parallelRequests = 60

// TestParallelWritesOneSession sends many concurrent requests of ONE
// session, each setting a different key, from goroutines through a real
// HTTP server and client: every request succeeds and every key is stored
// (no lost update), on every backend.
func TestParallelWritesOneSession(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, _ := b.start(t)
			a := newApp(t, dsn, nil)
			parallelWrites(t, []*app{a})
		})
	}
}

// TestTwoInstancesShareSessions runs two application instances (two
// Managers, each with its own driver) over one backend, and splits the
// concurrent requests of one session between them, as a load balancer
// would: no key is lost, and each instance reads the other's writes.
func TestTwoInstancesShareSessions(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, _ := b.start(t)
			parallelWrites(t, []*app{newApp(t, dsn, nil), newApp(t, dsn, nil)})
		})
	}
}

// parallelWrites creates a session through apps[0], then fires
// parallelRequests concurrent PUTs of distinct keys, spread round-robin
// over apps, all carrying the same cookie, and checks the outcome.
func parallelWrites(t *testing.T, apps []*app) {
	t.Helper()
	c := newClient(t)
	first := c.do("PUT", apps[0].Srv.URL+"/kv/base?v=kept")
	if first.Err != nil || first.Status != http.StatusOK || first.Cookie == nil {
		t.Fatalf("creating the session: %v", first)
	}
	id := first.Cookie.Value

	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]response, parallelRequests)
	for i := range parallelRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := apps[i%len(apps)]
			results[i] = c.do("PUT", fmt.Sprintf("%s/kv/k%02d?v=v%02d", a.Srv.URL, i, i))
		}()
	}
	close(start)
	wg.Wait()

	for i, r := range results {
		if r.Err != nil || r.Status != http.StatusOK {
			t.Errorf("request %d (instance %d): %v; want 200", i, i%len(apps), r)
		}
		if r.Cookie != nil && r.Cookie.Value != id {
			t.Errorf("request %d moved the client to another session", i)
		}
	}
	for n, a := range apps {
		if errs := a.Errs.all(); len(errs) > 0 {
			t.Errorf("instance %d reported %d session errors, the first: %v", n, len(errs), errs[0])
		}
	}
	if got := c.id(apps[0].Srv.URL); got != id {
		t.Fatalf("the client's session cookie changed during the run")
	}

	want := []string{"base"}
	for i := range parallelRequests {
		want = append(want, fmt.Sprintf("k%02d", i))
	}
	sort.Strings(want)
	for n, a := range apps {
		snap := a.snapshot(t, id)
		if snap == nil {
			t.Fatalf("instance %d: the session is gone after the parallel writes", n)
		}
		if got := snap.Keys(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("instance %d: after %d parallel writes the session holds %d keys; want %d (lost updates)\ngot  %v\nwant %v",
				n, parallelRequests, len(got), len(want), got, want)
		}
		for i := range parallelRequests {
			k := fmt.Sprintf("k%02d", i)
			if v, ok := sessions.SnapshotValue[string](snap, k); ok && v != fmt.Sprintf("v%02d", i) {
				t.Errorf("instance %d: %s = %q; want %q", n, k, v, fmt.Sprintf("v%02d", i))
			}
		}
		// And a request through each instance sees them all.
		r := c.do("GET", a.Srv.URL+"/keys")
		v, err := r.kv()
		if r.Status != http.StatusOK || err != nil || len(v.Keys) != len(want) {
			t.Errorf("instance %d: GET /keys = %v; want the %d keys", n, r, len(want))
		}
	}
}
