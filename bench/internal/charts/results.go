// Package charts draws the load harness' results (cmd/loadtest's JSON
// files in results/) as SVG or PNG charts with gonum.org/v1/plot: the
// headline comparison as grouped bars, and the size and connection sweeps
// as lines, every figure as a ratio of requests per second to bare Gin's.
//
// It reads the JSON on its own terms (the types below mirror the fields of
// cmd/loadtest's Result that a chart needs) and imports neither the
// harness nor the session library, so it builds whatever state they are in.
package charts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ginkit/sessions/bench/internal/proc"
)

// File is one results file written by cmd/loadtest.
type File struct {
	Mode     string   `json:"mode"`    // headline, size, conns, sql or scale
	Started  string   `json:"started"` // RFC 3339, UTC
	Host     string   `json:"host"`
	Duration string   `json:"duration"`
	Runs     int      `json:"runs"`
	Results  []Result `json:"results"`

	// Path is where the file was read from ("" when built in memory).
	Path string `json:"-"`
}

// Result is one measured wrk run: the fields of cmd/loadtest's Result that
// the charts use.
type Result struct {
	Run        int     `json:"run"`
	Server     string  `json:"server"` // lib/store, "bare" or "floor"
	Route      string  `json:"route"`  // none, read or write
	Size       int     `json:"size"`   // session size in bytes
	Conns      int     `json:"conns"`  // wrk connections
	Live       int     `json:"live"`   // scale mode: live sessions in the store
	PairedWith string  `json:"paired_with,omitempty"`
	RPS        float64 `json:"rps"`
	BareRPS    float64 `json:"bare_rps"`
	Ratio      float64 `json:"ratio"` // RPS / BareRPS
	CPURatio   float64 `json:"cpu_ratio"`
	Errors     int64   `json:"errors"`
}

// Load reads and checks a results file. The error names the file and says
// what is wrong with it: missing, not JSON, not a results file, or without
// any server measured against bare Gin.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("charts: read results: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("charts: %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse decodes and checks the JSON of a results file.
func Parse(b []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("not valid JSON (offset %d): %v", se.Offset, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("not a loadtest results file: field %q holds a %s: %v", te.Field, te.Value, err)
		case errors.Is(err, io.EOF):
			return nil, errors.New("empty file")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("not valid JSON: it ends mid-value (cut short?)")
		}
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if len(f.Results) == 0 {
		return nil, errors.New(`not a loadtest results file, or one without measurements: no "results"`)
	}
	for i, r := range f.Results {
		if r.Server == "" || r.Route == "" {
			return nil, fmt.Errorf("result %d has no server or route", i)
		}
		if math.IsNaN(r.Ratio) || math.IsInf(r.Ratio, 0) || r.Ratio < 0 {
			return nil, fmt.Errorf("result %d (%s /%s) has ratio %v", i, r.Server, r.Route, r.Ratio)
		}
	}
	if len(f.Points()) == 0 {
		return nil, errors.New("no server other than bare Gin was measured")
	}
	return &f, nil
}

// Point is the median over the runs of one server, route, size and
// connection count.
type Point struct {
	Server, Route string
	Size, Conns   int
	Live          int // scale mode: live sessions in the store (else 0)
	// Ratio is the median of the runs' ratios to bare Gin; Min and Max
	// their range, N their count.
	Ratio, Min, Max float64
	N               int
}

// Points returns the medians of every configuration but bare Gin's own
// (which is 1 by definition), in the order the file first lists them.
func (f *File) Points() []Point {
	type key struct {
		server, route string
		size, conns   int
		live          int
	}
	var order []key
	groups := map[key][]float64{}
	for _, r := range f.Results {
		if r.Server == "bare" {
			continue
		}
		k := key{r.Server, r.Route, r.Size, r.Conns, r.Live}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r.Ratio)
	}
	out := make([]Point, 0, len(order))
	for _, k := range order {
		rs := groups[k]
		p := Point{Server: k.server, Route: k.route, Size: k.size, Conns: k.conns, Live: k.live, Ratio: proc.Median(rs), Min: rs[0], Max: rs[0], N: len(rs)}
		for _, r := range rs {
			p.Min, p.Max = min(p.Min, r), max(p.Max, r)
		}
		out = append(out, p)
	}
	return out
}

// firstSeen returns the distinct values of key over ps in order.
func firstSeen[T comparable](ps []Point, key func(Point) T) []T {
	var out []T
	seen := map[T]bool{}
	for _, p := range ps {
		k := key(p)
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

var stamped = regexp.MustCompile(`^\d{8}-\d{6}-([a-z]+)\.json$`)

// Latest returns the results file of mode in dir that charts should show:
// the run that latest-MODE.md is a copy of (the newest complete run: the
// harness does not update it after a run of chosen servers or routes), or
// else the newest STAMP-MODE.json.
func Latest(dir, mode string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("charts: results folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if m := stamped.FindStringSubmatch(e.Name()); m != nil && m[1] == mode && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("charts: no %s results (STAMP-%s.json) in %s: %w", mode, mode, dir, ErrNoResults)
	}
	sort.Strings(names) // the stamp sorts by time
	if latest, err := os.ReadFile(filepath.Join(dir, "latest-"+mode+".md")); err == nil {
		for i := len(names) - 1; i >= 0; i-- {
			md, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(names[i], ".json")+".md"))
			if err == nil && bytes.Equal(md, latest) {
				return filepath.Join(dir, names[i]), nil
			}
		}
	}
	return filepath.Join(dir, names[len(names)-1]), nil
}

// ErrNoResults is wrapped by Latest's error when dir has no file of the mode.
var ErrNoResults = errors.New("no results")
