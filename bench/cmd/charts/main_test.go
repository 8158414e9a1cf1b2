package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginkit/sessions/bench/internal/charts"
)

// results writes a small results file of mode into dir.
func results(t *testing.T, dir, name, mode string, sizes, conns []int) string {
	t.Helper()
	f := charts.File{Mode: mode, Started: "2026-11-23T03:30:08Z", Runs: 1}
	for _, size := range sizes {
		for _, c := range conns {
			for i, s := range []string{"ginkit/memory", "gincontrib/redis"} {
				for _, r := range []string{"read", "write"} {
					f.Results = append(f.Results,
						charts.Result{Run: 1, Server: "bare", PairedWith: s, Route: r, Size: size, Conns: c, RPS: 1000, BareRPS: 1000, Ratio: 1},
						charts.Result{Run: 1, Server: s, Route: r, Size: size, Conns: c, RPS: 500, BareRPS: 1000, Ratio: 0.5 + 0.1*float64(i)})
				}
			}
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDrawsEveryModeFound(t *testing.T) {
	dir := t.TempDir()
	results(t, dir, "20261123-033008-headline.json", "headline", []int{250}, []int{64})
	results(t, dir, "20261123-001026-size.json", "size", []int{250, 4096}, []int{64})
	var out bytes.Buffer
	if err := run([]string{"-dir", dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"headline.svg", "headline.png", "size.svg", "size.png"} {
		if st, err := os.Stat(filepath.Join(dir, "charts", name)); err != nil || st.Size() == 0 {
			t.Errorf("charts/%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "charts", "conns.svg")); err == nil {
		t.Error("conns.svg drawn without conns results")
	}
	if !strings.Contains(out.String(), "no conns results") {
		t.Errorf("output does not say conns was skipped:\n%s", out.String())
	}
}

func TestNamedFilesAndFormats(t *testing.T) {
	dir, outDir := t.TempDir(), filepath.Join(t.TempDir(), "pics")
	p := results(t, dir, "mine.json", "conns", []int{250}, []int{16, 64, 256})
	if err := run([]string{"-dir", dir, "-conns", p, "-out", outDir, "-formats", "svg"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "conns.svg")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "conns.png")); err == nil {
		t.Error("conns.png drawn with -formats svg")
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "20261123-033008-headline.json")
	if err := os.WriteFile(bad, []byte(`{"mode": "headline", "results": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"empty folder", []string{"-dir", t.TempDir()}, "no results"},
		{"missing folder", []string{"-dir", filepath.Join(dir, "nope")}, "no such file"},
		{"missing file", []string{"-dir", t.TempDir(), "-size", filepath.Join(dir, "gone.json")}, "gone.json: no such file"},
		{"malformed newest", []string{"-dir", dir}, "20261123-033008-headline.json: not valid JSON"},
		{"bad format", []string{"-dir", dir, "-formats", "gif"}, "want svg and/or png"},
		{"stray argument", []string{"-dir", dir, "extra"}, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error saying %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestDrawsSQLMode(t *testing.T) {
	dir := t.TempDir()
	results(t, dir, "20261204-215401-sql.json", "sql", []int{250}, []int{64})
	var out bytes.Buffer
	if err := run([]string{"-dir", dir, "-formats", "svg"}, &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "charts", "sql.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "SQL stores") {
		t.Error("sql.svg lacks its title")
	}
	if _, err := os.Stat(filepath.Join(dir, "charts", "headline.svg")); err == nil {
		t.Error("headline.svg drawn from an sql run")
	}
}
