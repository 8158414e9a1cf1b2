// Package sqltest holds the tests the SQL drivers share beyond the
// conformance and middleware suites: two application instances writing
// one session, an outage of the database under load, schema creation by
// several instances at once, create_table=false, the sweep, the checks
// of refused DSNs, and the checks of what go doc shows of a driver (its
// methods, and the schema its package comment prints). Each driver's
// tests call them with a way to open drivers on a real database.
package sqltest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/sessionstest"
)

// Opener opens a driver on the database under test; the caller closes it
// when the test ends.
type Opener func(t *testing.T) sessions.Driver

// App is one application instance: a suite.Env over one driver whose
// handlers write and read the session.
type App struct{ *suite.Env }

// NewApp builds an App over d. Routes:
//
//	PUT /kv/:k?v=V  sets k=V and answers 200 {"saved":true}
//	GET /kv/:k      answers 200 with the value, or 404 if absent
func NewApp(t *testing.T, d sessions.Driver) *App {
	t.Helper()
	a := &App{suite.NewApp(t, d)}
	a.Engine.PUT("/kv/:k", func(c *gin.Context) {
		sessions.Set(c, c.Param("k"), c.Query("v"))
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	a.Engine.GET("/kv/:k", func(c *gin.Context) {
		v, ok := sessions.Get[string](c, c.Param("k"))
		if !ok {
			c.Status(http.StatusNotFound)
			return
		}
		c.String(http.StatusOK, v)
	})
	return a
}

// Response is the outcome of one request.
type Response struct {
	Status int
	Body   string
	Cookie string // the session cookie's value if the response set one
	Start  time.Time
	Took   time.Duration
}

// Do serves one request with the session cookie id ("" for none).
func (a *App) Do(method, path, id string) Response {
	r := Response{Start: time.Now()}
	req := httptest.NewRequest(method, path, nil)
	name := a.M.Config().CookieName
	if id != "" {
		req.AddCookie(&http.Cookie{Name: name, Value: id})
	}
	rec := a.Serve(req)
	r.Took = time.Since(r.Start)
	r.Status, r.Body = rec.Code, rec.Body.String()
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			r.Cookie = c.Value
		}
	}
	return r
}

// parallelRequests is the number of concurrent requests of TwoInstances.
const parallelRequests = 50

// TwoInstances runs two Managers over two drivers from open (two
// application instances on one database) and sends 50 concurrent
// requests of one session, spread over both, each setting a distinct key:
// every request succeeds and every key survives (no lost update), as both
// instances see.
func TwoInstances(t *testing.T, open Opener) {
	apps := []*App{NewApp(t, open(t)), NewApp(t, open(t))}
	first := apps[0].Do("PUT", "/kv/base?v=kept", "")
	if first.Status != http.StatusOK || first.Cookie == "" {
		t.Fatalf("creating the session: %d %s", first.Status, first.Body)
	}
	id := first.Cookie
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]Response, parallelRequests)
	for i := range parallelRequests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = apps[i%2].Do("PUT", fmt.Sprintf("/kv/k%02d?v=v%02d", i, i), id)
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r.Status != http.StatusOK {
			t.Errorf("request %d (instance %d): %d %s; want 200", i, i%2, r.Status, r.Body)
		}
		if r.Cookie != "" && r.Cookie != id {
			t.Errorf("request %d moved the client to another session", i)
		}
	}
	for n, a := range apps {
		if errs := a.Errs.All(); len(errs) > 0 {
			t.Errorf("instance %d reported %d session errors, the first: %v", n, len(errs), errs[0])
		}
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
		got := snap.Keys()
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("instance %d: after %d parallel writes the session holds %d keys; want %d (lost updates)\ngot  %v",
				n, parallelRequests, len(got), len(want), got)
		}
		for i := range parallelRequests {
			k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("v%02d", i)
			if got, ok := sessions.SnapshotValue[string](snap, k); !ok || got != v {
				t.Errorf("instance %d: %s = %q, %v; want %q", n, k, got, ok, v)
			}
		}
	}
}

// ConcurrentSchema opens n drivers at once on a fresh database whose
// tables do not exist yet and makes each one's first call (which creates
// the tables) at the same moment: every call succeeds, and each driver
// reads what another wrote.
func ConcurrentSchema(t *testing.T, n int, open Opener) {
	drivers := make([]sessions.Driver, n)
	for i := range drivers {
		drivers[i] = open(t)
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("schema-race-%d-%d", i, time.Now().UnixNano())
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := d.Save(context.Background(), keys[i], []byte("x"), 0, time.Hour)
			if err == nil && !ok {
				err = fmt.Errorf("Save(new key) = false")
			}
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("driver %d: first Save on a fresh database: %v", i, err)
		}
	}
	for i, d := range drivers {
		rec, _, _, err := d.Load(context.Background(), keys[(i+1)%n])
		if err != nil || string(rec) != "x" {
			t.Errorf("driver %d: Load of another driver's record = %q, %v", i, rec, err)
		}
	}
}

// KeysCompareAsBytes saves two keys that differ only in case through d:
// they are two records (a case-insensitive collation would make them one).
func KeysCompareAsBytes(t *testing.T, d sessions.Driver) {
	ctx := context.Background()
	k := sessionstest.Key(t)
	lower, upper := "a"+strings.ToLower(k[1:]), "A"+strings.ToUpper(k[1:])
	for _, key := range []string{lower, upper} {
		if ok, err := d.Save(ctx, key, []byte(key), 0, time.Hour); err != nil || !ok {
			t.Fatalf("Save(%s) = %v, %v; want a new record", key, ok, err)
		}
	}
	if err := d.Delete(ctx, upper); err != nil {
		t.Fatal(err)
	}
	if rec, _, _, err := d.Load(ctx, lower); err != nil || string(rec) != lower {
		t.Fatalf("Load(%s) after deleting %s = %q, %v", lower, upper, rec, err)
	}
	if rec, _, _, err := d.Load(ctx, upper); err != nil || rec != nil {
		t.Fatalf("Load(%s) after deleting it = %q, %v", upper, rec, err)
	}
}
