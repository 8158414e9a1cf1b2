package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/ginkit/sessions"
)

// parallelRequests is the number of concurrent requests of one session.
const parallelRequests = 60

// TestConcurrentWritesOneSession is the one concurrency scenario, run
// against every front end (the native middleware and the gin-contrib
// adapter) on every backend, with one application instance and with two
// (two Managers, each with its own driver, over one backend, as behind a
// round-robin load balancer): many concurrent requests of ONE session,
// each setting a different key, through a real HTTP server and client.
// Every request succeeds, no key is lost, and each instance reads the
// other's writes.
func TestConcurrentWritesOneSession(t *testing.T) {
	t.Parallel()
	fronts := []struct {
		name   string
		newApp func(t *testing.T, dsn string) *app
	}{
		{"Middleware", func(t *testing.T, dsn string) *app { return newApp(t, dsn, nil) }},
		{"Contrib", newContribApp},
	}
	for _, b := range slices.Concat(localBackends(), backends, sqlBackends()) {
		for _, f := range fronts {
			for _, instances := range []int{1, 2} {
				if b.name == "memory" && instances > 1 {
					continue // an in-process store is not shared between instances
				}
				t.Run(fmt.Sprintf("%s/%s/%dInstances", b.name, f.name, instances), func(t *testing.T) {
					t.Parallel()
					dsn, _ := b.start(t)
					apps := make([]*app, instances)
					for i := range apps {
						apps[i] = f.newApp(t, dsn)
					}
					parallelWrites(t, apps)
				})
			}
		}
	}
}

// TestConcurrentUpdates: 40 concurrent increments of one counter of one
// session with Update, spread over two application instances sharing the
// backend (one instance on memory://), on every backend, the SQL ones
// included: none is lost,
// the final value is 40, and every request got a distinct value.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	const n = 40
	for _, b := range slices.Concat(localBackends(), backends, sqlBackends()) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn, _ := b.start(t)
			apps := []*app{newApp(t, dsn, nil)}
			if b.name != "memory" {
				apps = append(apps, newApp(t, dsn, nil))
			}
			c := newClient(t)
			first := c.do("PUT", apps[0].Srv.URL+"/kv/base?v=1")
			if first.Err != nil || first.Cookie == nil {
				t.Fatalf("creating the session: %v", first)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			got := make([]int, n)
			for i := range n {
				wg.Go(func() {
					<-start
					r := c.do("POST", apps[i%len(apps)].Srv.URL+"/incr/visits")
					var v struct{ Value int }
					if r.Err != nil || r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &v) != nil {
						t.Errorf("increment %d: %v", i, r)
					}
					got[i] = v.Value
				})
			}
			close(start)
			wg.Wait()
			slices.Sort(got)
			for i, v := range got {
				if v != i+1 {
					t.Fatalf("the increments returned %v; want each of 1..%d once", got, n)
				}
			}
			for i, a := range apps {
				final, ok := sessions.SnapshotValue[int](a.Snapshot(t, first.Cookie.Value), "visits")
				if !ok || final != n {
					t.Errorf("instance %d reads visits=%d (%v); want %d", i, final, ok, n)
				}
			}
		})
	}
}

// localBackends are the in-process and single-host backends.
func localBackends() []backend {
	return []backend{
		{name: "memory", start: func(*testing.T) (string, func() error) { return "memory://", nil }},
		{name: "file", start: func(t *testing.T) (string, func() error) {
			return (&url.URL{Scheme: "file", Path: t.TempDir()}).String(), nil
		}},
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
		if errs := a.Errs.All(); len(errs) > 0 {
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
		snap := a.Snapshot(t, id)
		if snap == nil {
			t.Fatalf("instance %d: the session is gone after the parallel writes", n)
		}
		if got := snap.Keys(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("instance %d: after %d parallel writes the session holds %d keys; want %d (lost updates)\ngot  %v\nwant %v",
				n, parallelRequests, len(got), len(want), got, want)
		}
		for i := range parallelRequests {
			k := fmt.Sprintf("k%02d", i)
			if v, ok := sessions.SnapshotValue[string](snap, k); !ok || v != fmt.Sprintf("v%02d", i) {
				t.Errorf("instance %d: %s = %q, %v; want %q", n, k, v, ok, fmt.Sprintf("v%02d", i))
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
