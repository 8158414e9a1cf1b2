package main

import (
	"math"
	"testing"

	"github.com/ginkit/sessions/bench/internal/app"
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
