package integration

// Faults injected into real Redis and memcached servers under a bounded
// load of concurrent clients: each server is stopped (killed, down for a
// while, started again), paused with SIGSTOP (so calls hang rather than
// fail, until SIGCONT) and restarted at once, while 16 clients write and
// read through a real HTTP server. The test checks every response, each
// one's latency, the store's contents afterwards, the recovery time and
// the goroutine count, and logs the figures (run with -v to see them).
//
// These tests do not run in parallel with others: they measure latencies
// and the process's goroutine count, which other tests would disturb.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/testserver"
)

const (
	// faultTimeout is the store timeout the DSNs set (timeout=300ms).
	faultTimeout = 300 * time.Millisecond

	// faultBudget bounds every request, outage or not. A write during an
	// outage typically makes two store calls that each run into the
	// timeout (the load on the first helper call, the reload before
	// saving: about 2×timeout, which is what the test measures), and at
	// most three (when the server comes back between the two loads, the
	// save can hang too); the margin covers -race on a small, busy machine.
	faultBudget = 3*faultTimeout + 600*time.Millisecond

	faultClients  = 16
	faultSlots    = 24                      // keys per session; each write overwrites one
	faultHold     = 1500 * time.Millisecond // how long a server stays stopped or paused
	faultQuiet    = time.Second             // a failure-free stretch that counts as recovered
	faultRecovery = 8 * time.Second         // the longest a recovery may take
)

// faultServer is a server the test can stop, pause and restart.
type faultServer struct {
	name  string
	dsn   string
	proc  *testserver.Process
	ready func() error // waits until the server answers again
	keeps bool         // a restart keeps the data (Redis with an fsynced append-only file)
}

// faultStep is one injected fault.
type faultStep struct {
	name string
	loss bool // the server may lose its data (a kill of a server without persistence)
	do   func(t *testing.T, s *faultServer)
}

var faultSteps = []faultStep{
	{"stopped", true, func(t *testing.T, s *faultServer) {
		s.proc.Stop()
		time.Sleep(faultHold)
		s.proc.Restart(t)
		faultReady(t, s)
	}},
	{"paused", false, func(t *testing.T, s *faultServer) {
		pid := s.proc.Cmd.Process.Pid
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		cont := func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
		t.Cleanup(cont) // never leave a stopped server behind
		time.Sleep(faultHold)
		cont()
		faultReady(t, s)
	}},
	{"restarted", true, func(t *testing.T, s *faultServer) {
		s.proc.Restart(t)
		faultReady(t, s)
	}},
}

func faultReady(t *testing.T, s *faultServer) {
	t.Helper()
	if err := s.ready(); err != nil {
		t.Fatal(err)
	}
}

func TestFaultsRedis(t *testing.T) {
	addr, proc := startPersistentRedis(t)
	faultRun(t, &faultServer{
		name:  "redis",
		dsn:   "redis://" + addr + "?timeout=" + faultTimeout.String(),
		proc:  proc,
		ready: func() error { return testserver.WaitRedis(addr, 15*time.Second) },
		keeps: true,
	})
}

func TestFaultsMemcached(t *testing.T) {
	addr, proc := testserver.StartMemcached(t)
	faultRun(t, &faultServer{
		name:  "memcached",
		dsn:   "memcached://" + addr + "?timeout=" + faultTimeout.String(),
		proc:  proc,
		ready: func() error { return testserver.WaitMemcached(addr, 15*time.Second) },
	})
}

// faultCall is one request and what came of it.
type faultCall struct {
	client     int
	write      bool
	slot       int
	value      string // the value written, or the one the read wanted
	start, end time.Time
	status     int    // 0: no HTTP response
	err        string // transport error, or a wrong answer
	body       string // the body of a failed response
	found      bool   // a read found the key
	got        string // what a read found
	cookie     bool   // the response set the session cookie
	held       string // the session ID the client held afterwards
}

func (c faultCall) took() time.Duration { return c.end.Sub(c.start) }
func (c faultCall) ok() bool            { return c.err == "" && c.status >= 200 && c.status < 300 }
func (c faultCall) failed() bool        { return !c.ok() }

// faultApp is the application under fault: a Manager on the DSN, with
// two routes, served over loopback.
//
//	PUT /f/:k?v=V  sets k=V and answers 200 {"saved":true}
//	GET /f/:k      answers 200 {"found":…,"value":…}, or 503 when the
//	               session could not be loaded (sessions.Err), so that a
//	               store error is never mistaken for "not found"
type faultApp struct {
	m       *sessions.Manager
	srv     *httptest.Server
	reports atomic.Int64 // errors passed to the ErrorHandler
}

func faultNewApp(t *testing.T, dsn string) *faultApp {
	t.Helper()
	a := &faultApp{}
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.ErrorHandler = func(*gin.Context, error) { a.reports.Add(1) }
	m, err := sessions.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	e := gin.New()
	e.Use(m.Handler())
	e.PUT("/f/:k", func(c *gin.Context) {
		sessions.Set(c, c.Param("k"), c.Query("v"))
		c.JSON(http.StatusOK, gin.H{"saved": true})
	})
	e.GET("/f/:k", func(c *gin.Context) {
		v, ok := sessions.Get[string](c, c.Param("k"))
		if sessions.LoadError(c) != nil {
			c.String(http.StatusServiceUnavailable, "the session store is unavailable")
			return
		}
		c.JSON(http.StatusOK, gin.H{"found": ok, "value": v})
	})
	a.srv = httptest.NewServer(e)
	return a
}

// faultLoad is the bounded load: faultClients goroutines, each a browser
// with its own cookie jar, writing a slot and reading it back, until
// stopped. pause and resume quiesce it for a check of the store.
type faultLoad struct {
	a    *faultApp
	tr   *http.Transport
	jars []*cookiejar.Jar
	base *url.URL

	gate   sync.RWMutex // held for reading by each iteration; pause takes it for writing
	paused bool         // the test goroutine holds gate for writing
	stop   atomic.Bool
	wg     sync.WaitGroup

	mu    sync.Mutex
	calls []faultCall
}

func faultStartLoad(t *testing.T, a *faultApp) *faultLoad {
	l := &faultLoad{a: a, tr: &http.Transport{MaxIdleConnsPerHost: 2 * faultClients, DisableCompression: true}}
	l.base, _ = url.Parse(a.srv.URL)
	deadline := time.Now().Add(90 * time.Second) // a bound on the whole run, whatever happens
	for c := range faultClients {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		l.jars = append(l.jars, jar)
		hc := &http.Client{Jar: jar, Transport: l.tr, Timeout: 10 * time.Second}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 20000 && !l.stop.Load() && time.Now().Before(deadline); i++ {
				l.gate.RLock()
				slot, value := i%faultSlots, fmt.Sprintf("c%d-%d", c, i)
				w := l.do(hc, c, true, slot, value)
				l.do(hc, c, false, slot, value)
				l.gate.RUnlock()
				if w.failed() {
					time.Sleep(20 * time.Millisecond) // a failing client backs off a little, as browsers do
				}
			}
		}()
	}
	return l
}

func (l *faultLoad) do(hc *http.Client, client int, write bool, slot int, value string) faultCall {
	c := faultCall{client: client, write: write, slot: slot, value: value, start: time.Now()}
	method, target := http.MethodGet, fmt.Sprintf("%s/f/s%02d", l.base, slot)
	if write {
		method, target = http.MethodPut, target+"?v="+value
	}
	req, _ := http.NewRequest(method, target, nil)
	resp, err := hc.Do(req)
	if err != nil {
		c.end, c.err = time.Now(), err.Error()
	} else {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.end, c.status = time.Now(), resp.StatusCode
		if rerr != nil {
			c.err = rerr.Error()
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == sessions.DefaultCookieName {
				c.cookie = true
			}
		}
		if !c.ok() {
			c.body = string(body[:min(len(body), 200)])
		}
		if c.ok() {
			var v struct {
				Saved bool   `json:"saved"`
				Found bool   `json:"found"`
				Value string `json:"value"`
			}
			if err := json.Unmarshal(body, &v); err != nil || (write && !v.Saved) {
				c.err = fmt.Sprintf("unexpected 2xx body %q", body)
			}
			c.found, c.got = v.Found, v.Value
		}
	}
	for _, ck := range l.jars[client].Cookies(l.base) {
		if ck.Name == sessions.DefaultCookieName {
			c.held = ck.Value
		}
	}
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	return c
}

func (l *faultLoad) snapshot() []faultCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *faultLoad) pause()  { l.gate.Lock(); l.paused = true }
func (l *faultLoad) resume() { l.paused = false; l.gate.Unlock() }

func (l *faultLoad) halt() []faultCall {
	if l.paused {
		l.resume()
	}
	l.stop.Store(true)
	l.wg.Wait()
	return l.snapshot()
}

// faultPhase is the record of one fault.
type faultPhase struct {
	name              string
	start, back, done time.Time // fault injected, server answering again, recovered
	recovery          time.Duration
	failures          int
}

// faultRun is the whole scenario on one server.
func faultRun(t *testing.T, s *faultServer) {
	runtime.GC()
	before := runtime.NumGoroutine()
	a := faultNewApp(t, s.dsn)
	l := faultStartLoad(t, a)
	stopped := false
	t.Cleanup(func() { // if the test fails half-way
		if !stopped {
			l.halt()
		}
		l.tr.CloseIdleConnections()
		a.srv.Close()
		_ = a.m.Close()
	})

	// Warm-up: the load runs against a healthy server; nothing may fail.
	time.Sleep(800 * time.Millisecond)
	sinceLoss := time.Time{}
	l.pause()
	faultVerify(t, s, l, "warm-up", sinceLoss)
	warm := l.snapshot()
	for _, c := range warm {
		if c.failed() {
			t.Errorf("warm-up: a request failed against a healthy server: %+v", c)
		}
	}
	l.resume()

	var phases []faultPhase
	for _, step := range faultSteps {
		p := faultPhase{name: step.name, start: time.Now()}
		step.do(t, s)
		p.back = time.Now()
		if step.loss && !s.keeps {
			sinceLoss = p.back
		}
		p.recovery, p.failures = faultAwaitRecovery(t, l, p)
		p.done = time.Now()
		phases = append(phases, p)
		l.pause()
		faultVerify(t, s, l, step.name, sinceLoss)
		l.resume()
	}
	time.Sleep(300 * time.Millisecond) // a last stretch of healthy load
	calls := l.halt()
	stopped = true

	faultCheckCalls(t, s, calls, phases)
	faultReport(t, s, calls, phases, warm, a)

	// No goroutine outlives the run once the clients, the HTTP server and
	// the Manager are closed.
	l.tr.CloseIdleConnections()
	a.srv.Close()
	if err := a.m.Close(); err != nil {
		t.Errorf("Manager.Close: %v", err)
	}
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s goroutines: %d before, %d after the run (%d requests)", s.name, before, after, len(calls))
	if after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%s: %d goroutines before the run, %d after: a leak\n%s", s.name, before, after, buf[:runtime.Stack(buf, true)])
	}
}

// faultAwaitRecovery waits until requests succeed again after a fault:
// a stretch of faultQuiet with no failure and some successes. It returns
// how long after the server was back the last failure ended (0 if none
// did after it) and how many requests failed during the phase.
func faultAwaitRecovery(t *testing.T, l *faultLoad, p faultPhase) (time.Duration, int) {
	t.Helper()
	for {
		var lastFail time.Time
		failures, okAfter := 0, 0
		for _, c := range l.snapshot() {
			if c.start.Before(p.start) && c.end.Before(p.start) {
				continue
			}
			if c.failed() {
				failures++
				if c.end.After(lastFail) {
					lastFail = c.end
				}
			}
		}
		quietSince := p.back
		if lastFail.After(quietSince) {
			quietSince = lastFail
		}
		for _, c := range l.snapshot() {
			if c.start.After(quietSince) && c.ok() {
				okAfter++
			}
		}
		if time.Since(quietSince) >= faultQuiet && okAfter >= faultClients {
			return max(0, quietSince.Sub(p.back)), failures
		}
		if time.Since(p.back) > faultRecovery {
			t.Fatalf("%s: no recovery within %v of the server answering again: last failure %v after it, %d successes since",
				p.name, faultRecovery, lastFail.Sub(p.back), okAfter)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// faultVerify checks the store itself, with the load paused: every write
// the server acknowledged (2xx) since the last data loss is in the
// client's session, unless a later write of the same slot (one that
// failed, but may have landed) replaced it.
func faultVerify(t *testing.T, s *faultServer, l *faultLoad, at string, sinceLoss time.Time) {
	t.Helper()
	calls := l.snapshot()
	checked := 0
	for client := range faultClients {
		var mine []faultCall
		for _, c := range calls {
			if c.client == client && c.write && c.start.After(sinceLoss) {
				mine = append(mine, c)
			}
		}
		if len(mine) == 0 {
			continue
		}
		id := mine[len(mine)-1].held
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		snap, err := l.a.m.Snapshot(ctx, id)
		cancel()
		if err != nil {
			t.Fatalf("%s: %s: Snapshot: %v", s.name, at, err)
		}
		for slot := range faultSlots {
			acked := -1
			for i, c := range mine {
				if c.slot == slot && c.ok() && c.held == id {
					acked = i
				}
			}
			if acked < 0 {
				continue
			}
			checked++
			allowed := []string{mine[acked].value}
			for _, c := range mine[acked+1:] {
				if c.slot == slot && c.failed() {
					allowed = append(allowed, c.value) // failed, but may have landed
				}
			}
			var got string
			var ok bool
			if snap != nil {
				got, ok = sessions.SnapshotValue[string](snap, fmt.Sprintf("s%02d", slot))
			}
			if !ok || !slices.Contains(allowed, got) {
				t.Errorf("%s, after %s: client %d slot %d: the store holds %q (%v); the write of %q was acknowledged at %v",
					s.name, at, client, slot, got, ok, mine[acked].value, mine[acked].end.Format("15:04:05.000"))
			}
		}
	}
	t.Logf("%s, after %s: %d acknowledged writes found in the store", s.name, at, checked)
}

// faultCheckCalls checks every response: a 2xx, correct; or a clean 5xx;
// never a transport error, never slower than faultBudget, never a 2xx
// read that contradicts the write just acknowledged.
func faultCheckCalls(t *testing.T, s *faultServer, calls []faultCall, phases []faultPhase) {
	t.Helper()
	lossAt := func(from, to time.Time) bool {
		for i, p := range phases {
			if faultSteps[i].loss && !s.keeps && p.start.Before(to) && p.back.After(from) {
				return true
			}
		}
		return false
	}
	byClient := map[int][]faultCall{}
	for _, c := range calls {
		byClient[c.client] = append(byClient[c.client], c)
	}
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf(s.name+": "+format, args...)
		}
	}
	for _, cs := range byClient {
		for i, c := range cs {
			kind := "GET"
			if c.write {
				kind = "PUT"
			}
			switch {
			case c.status == 0:
				report("%s at %s: no HTTP response: %s", kind, c.start.Format("15:04:05.000"), c.err)
			case c.err != "":
				report("%s at %s: %d: %s", kind, c.start.Format("15:04:05.000"), c.status, c.err)
			case c.status >= 300 && c.status < 500:
				report("%s at %s: status %d; want 2xx or 5xx", kind, c.start.Format("15:04:05.000"), c.status)
			}
			if c.took() > faultBudget {
				report("%s at %s took %v; budget %v (timeout=%v)", kind, c.start.Format("15:04:05.000"), c.took(), faultBudget, faultTimeout)
			}
			if c.write && c.failed() && c.cookie {
				report("PUT at %s: a failed save set the session cookie", c.start.Format("15:04:05.000"))
			}
			if c.write && c.status >= 500 && (strings.Contains(c.body, "saved") && !strings.Contains(c.body, "could not be saved")) {
				report("PUT at %s: a failed save answered %d with the handler's success body %q", c.start.Format("15:04:05.000"), c.status, c.body)
			}
			if !c.write && c.ok() && c.found && c.got != c.value {
				// The read must find what the write just before it stored.
				// If that write failed (the store was down), it may or may
				// not have landed: the read may then find it or any value
				// this client wrote to the slot before, never another.
				if i == 0 || !cs[i-1].write || cs[i-1].slot != c.slot || cs[i-1].ok() || !faultWroteBefore(cs[:i], c.slot, c.got) {
					prev := "nothing"
					if i > 0 {
						p := cs[i-1]
						prev = fmt.Sprintf("write=%v slot %d status %d at %s-%s", p.write, p.slot, p.status, p.start.Format("15:04:05.000"), p.end.Format("15:04:05.000"))
					}
					report("GET at %s found %q; the client wrote %q (the call before: %s)", c.start.Format("15:04:05.000"), c.got, c.value, prev)
				}
			}
			// A write acknowledged, then read back by the same client at
			// once, with no store error: it must be there.
			if !c.write && c.ok() && !c.found && i > 0 {
				w := cs[i-1]
				if w.write && w.ok() && w.slot == c.slot && w.held == c.held && !lossAt(w.start, c.end) {
					report("PUT of %q at %s answered 2xx, but the read right after found nothing: a save that did not happen",
						w.value, w.start.Format("15:04:05.000"))
				}
			}
		}
	}
	if bad > 20 {
		t.Errorf("%s: %d problems in all", s.name, bad)
	}
}

// faultWroteBefore reports whether one of calls wrote value to slot.
func faultWroteBefore(calls []faultCall, slot int, value string) bool {
	for _, c := range calls {
		if c.write && c.slot == slot && c.value == value {
			return true
		}
	}
	return false
}

// faultReport logs the figures.
func faultReport(t *testing.T, s *faultServer, calls []faultCall, phases []faultPhase, warm []faultCall, a *faultApp) {
	t.Helper()
	lat := func(cs []faultCall) string {
		if len(cs) == 0 {
			return "no requests"
		}
		d := make([]time.Duration, len(cs))
		for i, c := range cs {
			d[i] = c.took()
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
		return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.5).Round(100*time.Microsecond), q(0.99).Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond))
	}
	failed := 0
	for _, c := range calls {
		if c.failed() {
			failed++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (timeout=%v, %d clients, budget %v per request): %d requests, %d failed (clean 5xx), %d errors reported; all: %s; warm-up: %s",
		s.name, faultTimeout, faultClients, faultBudget, len(calls), failed, a.reports.Load(), lat(calls), lat(warm))
	for _, p := range phases {
		var during, writes []faultCall
		for _, c := range calls {
			if !c.end.Before(p.start) && c.start.Before(p.done) {
				during = append(during, c)
				if c.write && c.start.Before(p.back) {
					writes = append(writes, c)
				}
			}
		}
		fmt.Fprintf(&b, "\n  %-9s down %v; %d requests, %d failed; during the fault writes took %s; recovered %v after the server answered again",
			p.name, p.back.Sub(p.start).Round(time.Millisecond), len(during), p.failures, lat(writes), p.recovery.Round(time.Millisecond))
	}
	t.Log(b.String())
}
