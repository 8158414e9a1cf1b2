package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the soak start this test binary as its session server,
// as the soak binary starts itself: "serve" runs the server instead of
// the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGrowthComparesFirstAndLastFifth(t *testing.T) {
	// Ten samples: fifths of two. The middle does not count.
	xs := []float64{100, 100, 500, 500, 500, 500, 500, 500, 110, 112}
	first, last, g := Growth(xs)
	if first != 100 || last != 111 || math.Abs(g-0.11) > 1e-9 {
		t.Fatalf("Growth = %v, %v, %v; want 100, 111, 0.11", first, last, g)
	}
	// Fewer than five samples: one each.
	if first, last, g := Growth([]float64{50, 60, 75}); first != 50 || last != 75 || g != 0.5 {
		t.Fatalf("Growth of 3 = %v, %v, %v; want 50, 75, 0.5", first, last, g)
	}
	if _, _, g := Growth(nil); g != 0 {
		t.Fatalf("Growth(nil) = %v", g)
	}
}

func TestVerdict(t *testing.T) {
	// At the limit passes; just over it fails, naming backend and metric.
	if r := Verdict("redis", 0, nil, 0, 1000, 1100, 40, 44, 0.10); len(r) != 0 {
		t.Fatalf("10%% growth failed: %q", r)
	}
	if r := Verdict("redis", 0, nil, 0, 1000, 900, 40, 20, 0.10); len(r) != 0 {
		t.Fatalf("shrinking failed: %q", r)
	}
	r := Verdict("redis", 0, nil, 0, 1000, 1101, 40, 40, 0.10)
	if len(r) != 1 || !strings.Contains(r[0], "redis") || !strings.Contains(r[0], "RSS") {
		t.Fatalf("RSS growth of 10.1%%: %q", r)
	}
	r = Verdict("postgres", 0, nil, 0, 1000, 1000, 40, 45, 0.10)
	if len(r) != 1 || !strings.Contains(r[0], "postgres") || !strings.Contains(r[0], "goroutines") {
		t.Fatalf("goroutine growth of 12.5%%: %q", r)
	}
	r = Verdict("memory", 1, []string{"read: GET /read: 500"}, 0, 1, 1, 1, 1, 0.10)
	if len(r) != 1 || !strings.Contains(r[0], "1 failed requests") || !strings.Contains(r[0], "GET /read: 500") {
		t.Fatalf("one failed request: %q", r)
	}
	r = Verdict("memory", 0, nil, 3, 1, 1, 1, 1, 0.10)
	if len(r) != 1 || !strings.Contains(r[0], "3 loads found no session") {
		t.Fatalf("lost sessions: %q", r)
	}
}

func TestMix(t *testing.T) {
	m, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if m.Total() != 100 {
		t.Fatalf("Total = %d", m.Total())
	}
	// Every x in [0, Total) picks an op, in proportion to its weight.
	got := map[string]int{}
	for x := range m.Total() {
		got[m.Pick(x)]++
	}
	want := map[string]int{"read": 60, "write": 25, "login": 10, "logout": 5}
	for op, n := range want {
		if got[op] != n {
			t.Fatalf("picks %v; want %v", got, want)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("picks %v; want %v", got, want)
	}
	if w := m.Weights(); len(w) != 4 || w["login"] != 10 || w["read"] != 60 {
		t.Fatalf("Weights = %v", w)
	}
	if s := m.LoggedInShare(); math.Abs(s-2.0/3) > 1e-9 {
		t.Fatalf("LoggedInShare = %v; want 2/3", s)
	}
	// A zero weight drops the op.
	m, err = ParseMix("read=1,fail=0")
	if err != nil {
		t.Fatal(err)
	}
	for x := range m.Total() {
		if op := m.Pick(x); op != "read" {
			t.Fatalf("Pick(%d) = %q", x, op)
		}
	}
	if m.LoggedInShare() != 0 {
		t.Fatal("a mix without logins keeps sessions logged in")
	}
	for _, bad := range []string{"", "read=0", "read", "read=-1", "read=x", "delete=1", "read=1,read=2"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

// soak runs the soak command on the memory backend, briefly, and returns
// whether it failed and the result it wrote.
func soak(t *testing.T, extra ...string) (bool, *Result) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"-backends", "memory", "-live", "2000", "-duration", "5s", "-sample", "250ms",
		"-workers", "8", "-rate", "400", "-out", out}, extra...)
	failed, err := run(context.Background(), args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "*-soak-memory.json"))
	if len(files) != 1 {
		t.Fatalf("results: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(strings.TrimSuffix(files[0], ".json") + ".md"); err != nil {
		t.Fatal(err)
	}
	return failed, &r
}

func TestSoakPasses(t *testing.T) {
	failed, r := soak(t)
	if failed || !r.Pass || len(r.Reasons) != 0 {
		t.Fatalf("a healthy server failed the soak: %q", r.Reasons)
	}
	if r.Requests == 0 || r.Failures != 0 || r.LostSessions != 0 || len(r.Samples) < 5 {
		t.Fatalf("requests %d, failures %d, lost %d, samples %d", r.Requests, r.Failures, r.LostSessions, len(r.Samples))
	}
	// Every op of the mix ran, and the server saw logins and logouts.
	for _, op := range []string{"read", "write", "login", "logout"} {
		if r.ByOp[op] == 0 {
			t.Errorf("no %s in %v", op, r.ByOp)
		}
	}
	if r.Stats["Refreshes"] == 0 || r.Stats["Destroys"] == 0 {
		t.Errorf("Manager.Stats over the window: %v", r.Stats)
	}
	for _, s := range r.Samples {
		if s.RSSKB <= 0 || s.Goroutines <= 0 {
			t.Fatalf("sample %+v", s)
		}
	}
}

func TestSoakFailsOnAFailingRequest(t *testing.T) {
	failed, r := soak(t, "-mix", "read=60,write=25,login=10,logout=5,fail=1")
	if !failed || r.Pass || r.Failures == 0 || r.FailuresByOp["fail"] != r.Failures {
		t.Fatalf("failed %v, pass %v, failures %d by op %v", failed, r.Pass, r.Failures, r.FailuresByOp)
	}
	if len(r.FirstFailures) != 1 || !strings.Contains(r.FirstFailures[0], "500") {
		t.Fatalf("first failures %q", r.FirstFailures)
	}
}

func TestSoakFailsWhenServerGoroutinesGrow(t *testing.T) {
	// Each /leak leaves a goroutine behind in the server: only a sampler
	// that reads the server's own count sees them.
	failed, r := soak(t, "-mix", "read=90,leak=10")
	if !failed || r.Pass || r.Failures != 0 || r.GoroutinesGrowth <= 0.10 {
		t.Fatalf("failed %v, pass %v, failures %d, goroutine growth %v", failed, r.Pass, r.Failures, r.GoroutinesGrowth)
	}
	// (The leaked goroutines' stacks may grow the RSS too.)
	if !strings.Contains(strings.Join(r.Reasons, "\n"), "memory: goroutines grew") {
		t.Fatalf("reasons %q", r.Reasons)
	}
}
