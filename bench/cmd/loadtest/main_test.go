package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/bench/internal/app"
	"github.com/ginkit/sessions/bench/internal/backend"
)

func TestTallyWeightsLatencyByRequests(t *testing.T) {
	var tl tally
	var a, b wrkSummary
	a.Requests, a.DurationUs, a.Latency.P50, a.Latency.P99 = 100, 1e6, 1000, 5000
	b.Requests, b.DurationUs, b.Latency.P50, b.Latency.P99 = 300, 1e6, 2000, 9000
	tl.add(a)
	tl.add(b)
	if got := tl.rps(); got != 200 {
		t.Errorf("rps = %v; want 200", got)
	}
	r := (&env{}).result(1, "x", "read", 250, 64, app.Spec{}, &tl, nil)
	if r.P50us != 1750 || r.P99us != 8000 {
		t.Errorf("p50, p99 = %d, %d; want 1750, 8000", r.P50us, r.P99us)
	}
	if math.IsNaN(r.ServerCPUus) {
		t.Error("CPU per request is NaN")
	}
}

func TestSplitOps(t *testing.T) {
	// ginkit's save: EVALSHA runs TYPE, PTTL, GETRANGE and SET inside the
	// script, and Load sends GET and PTTL.
	calls := map[string]int64{"get": 10, "pttl": 20, "evalsha": 10, "type": 10, "getrange": 10, "set": 10, "info": 3}
	probe := &redisProbe{
		client: map[string]int64{"get": 5, "pttl": 5, "evalsha": 5},
		lua:    map[string]int64{"type": 5, "pttl": 5, "getrange": 5, "set": 5},
	}
	sent, script := splitOps(calls, probe)
	if sent["get"] != 10 || sent["pttl"] != 10 || sent["evalsha"] != 10 || len(sent) != 3 {
		t.Errorf("sent = %v", sent)
	}
	if script["pttl"] != 10 || script["type"] != 10 || script["set"] != 10 || len(script) != 4 {
		t.Errorf("script = %v", script)
	}
	// Without a probe everything counts as sent.
	if sent, _ := splitOps(map[string]int64{"get": 1, "set": 1}, nil); len(sent) != 2 {
		t.Errorf("sent without probe = %v", sent)
	}
}

func TestResolveSQLMode(t *testing.T) {
	o := options{mode: "sql", sqlConns: 16, sqliteConns: 1}
	if err := o.resolve("", "", "", ""); err != nil {
		t.Fatal(err)
	}
	want := append([]string{"bare"}, app.SQLNames()...)
	if strings.Join(o.servers, ",") != strings.Join(want, ",") {
		t.Errorf("servers = %v; want %v", o.servers, want)
	}
	if strings.Join(o.routes, ",") != "read,write" || o.partial {
		t.Errorf("routes = %v, partial = %v; want read,write and a complete run", o.routes, o.partial)
	}
	needs := o.needs()
	if !needs["postgres"] || !needs["mariadb"] || !needs["sqlite"] || len(needs) != 3 {
		t.Errorf("needs = %v", needs)
	}

	// The servers named on the command line, in any mode.
	o = options{mode: "headline", sqlConns: 16, sqliteConns: 1}
	if err := o.resolve("ginkit/postgres,scs/pgxstore", "read", "", ""); err != nil {
		t.Fatal(err)
	}
	if needs := o.needs(); !needs["postgres"] || len(needs) != 1 || !o.partial {
		t.Errorf("needs = %v, partial = %v", needs, o.partial)
	}
	// The headline needs Redis and memcached, no SQL server.
	o = options{mode: "headline", sqlConns: 16, sqliteConns: 1}
	if err := o.resolve("", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if needs := o.needs(); len(needs) != 2 || !needs["redis"] || !needs["memcached"] {
		t.Errorf("headline needs %v", needs)
	}
	for _, bad := range []options{
		{mode: "sql", sqlConns: 0, sqliteConns: 1},
		{mode: "nope", sqlConns: 16, sqliteConns: 1},
	} {
		if err := bad.resolve("", "", "", ""); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	o = options{mode: "sql", sqlConns: 16, sqliteConns: 1}
	if err := o.resolve("", "reed", "", ""); err == nil {
		t.Error("-routes reed: no error")
	}
}

func TestResultOfSQLServers(t *testing.T) {
	var tl tally
	var w wrkSummary
	w.Requests, w.DurationUs = 1000, 1e6
	tl.add(w)
	tl.sql = backend.SQLStats{Statements: map[string]int64{"select": 1000, "update": 1000}, Extra: map[string]int64{"questions": 2000}, Connections: 2, CPU: 0.05}
	spec, _ := app.ParseName("ginkit/mysql")
	r := (&env{}).result(1, "ginkit/mysql", "write", 250, 64, spec, &tl, nil)
	if r.Backend != "mariadb" || r.Ops != 2 || r.OpsDetail["select"] != 1 || r.ExtraDetail["questions"] != 2 {
		t.Errorf("mariadb result: backend %q ops %v detail %v extra %v", r.Backend, r.Ops, r.OpsDetail, r.ExtraDetail)
	}
	if r.NewConns != 0.002 || math.Abs(r.BackendCPUus-50) > 1e-9 {
		t.Errorf("conns %v, backend CPU %v µs; want 0.002, 50", r.NewConns, r.BackendCPUus)
	}

	// SQLite: the Manager's driver calls, no backend process.
	tl.driverOps = map[string]int64{"load": 1000, "save": 1000, "save_conflict": 50, "touch": 0}
	spec, _ = app.ParseName("ginkit/sqlite")
	r = (&env{}).result(1, "ginkit/sqlite", "write", 250, 64, spec, &tl, nil)
	if r.Backend != "sqlite" || r.Ops != 2.05 || r.BackendCPUus != 0 || r.NewConns != 0 || len(r.OpsDetail) != 3 {
		t.Errorf("sqlite result: backend %q ops %v detail %v cpu %v conns %v", r.Backend, r.Ops, r.OpsDetail, r.BackendCPUus, r.NewConns)
	}
}

func TestDriverCalls(t *testing.T) {
	got := driverCalls(sessions.Stats{Loads: 10, Hits: 9, Saves: 4, SaveConflicts: 1, Touches: 2, Refreshes: 7})
	if got["load"] != 10 || got["save"] != 4 || got["save_conflict"] != 1 || got["touch"] != 2 || len(got) != 4 {
		t.Errorf("driverCalls = %v", got)
	}
}

func TestMarkdownOfSQLRun(t *testing.T) {
	e := &env{o: options{mode: "sql", routes: []string{"read", "write"}, runs: 1, slices: 8, threads: 2, pool: 1000, sqlConns: 16, sqliteConns: 1},
		started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), hostInfo: "2 cores", sqlNotes: "SQL backends: as set up."}
	for _, srv := range []struct {
		name, backend string
		rt            float64
	}{{"ginkit/postgres", "postgres", 1}, {"ginkit/sqlite", "sqlite", 0}, {"gincontrib/postgres", "postgres", 2.02}} {
		for _, route := range e.o.routes {
			e.results = append(e.results,
				Result{Run: 1, Server: "bare", PairedWith: srv.name, Route: route, Size: 250, Conns: 64, RPS: 1000, BareRPS: 1000, Ratio: 1, CPURatio: 1},
				Result{Run: 1, Server: srv.name, Route: route, Size: 250, Conns: 64, RPS: 400, BareRPS: 1000, Ratio: 0.4, CPURatio: 0.4,
					Backend: srv.backend, Ops: 1, OpsDetail: map[string]float64{"select": 1}, RoundTrips: srv.rt})
		}
	}
	md := e.markdown()
	for _, want := range []string{
		"SQL backends: as set up.",
		"| ops/req | round trips/req | conns/req |",
		"| ginkit/postgres | /read | 400 | 0.40 | 0.40 |",
		"| 1.00 | 1.00 | 0.000 |",
		"| 1.00 | 2.02 | 0.000 |",
		"<summary>Statements per request</summary>",
		"| ginkit/postgres | /read | 250 B | 64 | postgres | select 1.00 | 1.00 | – |",
		"| ginkit/sqlite | /write | 250 B | 64 | sqlite (driver calls) | select 1.00 | – | – |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Lua scripts") {
		t.Errorf("a SQL-only run shows the Redis table:\n%s", md)
	}
	// SQLite has no backend process, connections or round trips.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ginkit/sqlite | /read | 400") && !strings.HasSuffix(line, "| – | 1.00 | – | – |") {
			t.Errorf("sqlite row %q", line)
		}
	}

	// A run without SQL servers keeps its table as before.
	e = &env{o: options{mode: "headline", routes: []string{"read"}, runs: 1}, results: []Result{
		{Run: 1, Server: "bare", PairedWith: "ginkit/redis", Route: "read", Size: 250, Conns: 64, RPS: 1000, BareRPS: 1000, Ratio: 1},
		{Run: 1, Server: "ginkit/redis", Route: "read", Size: 250, Conns: 64, RPS: 500, BareRPS: 1000, Ratio: 0.5, Backend: "redis", Ops: 1, OpsDetail: map[string]float64{"get": 1}},
	}}
	md = e.markdown()
	if strings.Contains(md, "round trips") || strings.Contains(md, "Statements per request") || !strings.Contains(md, "| ops/req | conns/req |") || !strings.Contains(md, "Lua scripts") {
		t.Errorf("headline markdown changed:\n%s", md)
	}
}

func TestServeArgs(t *testing.T) {
	got := strings.Join(serveArgs("ginkit/sqlite", "127.0.0.1:9", 250, "r:1", "m:2", "/d"), " ")
	if got != "serve -server ginkit/sqlite -listen 127.0.0.1:9 -size 250 -redis r:1 -memcached m:2 -dir /d" {
		t.Errorf("serveArgs = %q", got)
	}
}

func TestResolveScaleMode(t *testing.T) {
	o := options{mode: "scale", sqlConns: 16, sqliteConns: 1, userSessions: 1000}
	if err := o.resolve("", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := o.resolveLive(""); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.servers, ","); got != "bare,"+strings.Join(ScaleServers(), ",") {
		t.Errorf("servers = %s", got)
	}
	if len(o.live) != 3 || o.live[0] != 10000 || o.live[2] != 1000000 || strings.Join(o.routes, ",") != "read,write" {
		t.Errorf("live = %v, routes = %v", o.live, o.routes)
	}
	// memcached has room for the largest count at 2 KB a session.
	if mb := memcachedMB(o); mb < 2048 {
		t.Errorf("memcached -m %d for a million sessions", mb)
	}
	p := options{mode: "scale", sqlConns: 16, sqliteConns: 1, userSessions: 1000}
	if err := p.resolve("scs/redis", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := p.resolveLive(""); err == nil {
		t.Error("-mode scale accepted scs/redis")
	}
	h := options{mode: "headline"}
	if err := h.resolveLive("1000"); err == nil {
		t.Error("-live accepted outside -mode scale")
	}
}
