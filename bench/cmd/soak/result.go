package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Result is one backend's soak: its settings, every sample and count,
// and the verdict.
type Result struct {
	Backend         string           `json:"backend"`
	BackendVersion  string           `json:"backend_version,omitempty"`
	GoVersion       string           `json:"go_version"`
	Started         time.Time        `json:"started"` // the measured window's start
	Live            int              `json:"live"`
	Workers         int              `json:"workers"`
	Rate            float64          `json:"rate"` // asked for; 0: unthrottled
	Mix             map[string]int   `json:"mix"`
	SampleSeconds   float64          `json:"sample_seconds"`
	MaxGrowth       float64          `json:"max_growth"`
	PreloadSeconds  float64          `json:"preload_seconds"`
	DurationSeconds float64          `json:"duration_seconds"`
	Requests        int64            `json:"requests"`
	RPS             float64          `json:"rps"`
	ByOp            map[string]int64 `json:"by_op"`
	Failures        int64            `json:"failures"`
	FailuresByOp    map[string]int64 `json:"failures_by_op"`
	FirstFailures   []string         `json:"first_failures,omitempty"`
	// LostSessions counts the loads in the window that found no session
	// (Manager.Stats' Misses): the client only sends live sessions' cookies.
	LostSessions uint64            `json:"lost_sessions"`
	Stats        map[string]uint64 `json:"stats"` // Manager.Stats over the window
	Samples      []Sample          `json:"samples"`

	RSSFirstKB       float64  `json:"rss_first_fifth_kb"`
	RSSLastKB        float64  `json:"rss_last_fifth_kb"`
	RSSGrowth        float64  `json:"rss_growth"`
	GoroutinesFirst  float64  `json:"goroutines_first_fifth"`
	GoroutinesLast   float64  `json:"goroutines_last_fifth"`
	GoroutinesGrowth float64  `json:"goroutines_growth"`
	Pass             bool     `json:"pass"`
	Reasons          []string `json:"reasons,omitempty"`
}

// check computes the growth figures and the verdict.
func (r *Result) check() {
	rss := make([]float64, len(r.Samples))
	gor := make([]float64, len(r.Samples))
	for i, s := range r.Samples {
		rss[i], gor[i] = float64(s.RSSKB), float64(s.Goroutines)
	}
	r.RSSFirstKB, r.RSSLastKB, r.RSSGrowth = Growth(rss)
	r.GoroutinesFirst, r.GoroutinesLast, r.GoroutinesGrowth = Growth(gor)
	r.Reasons = Verdict(r.Backend, r.Failures, r.FirstFailures, r.LostSessions,
		r.RSSFirstKB, r.RSSLastKB, r.GoroutinesFirst, r.GoroutinesLast, r.MaxGrowth)
	r.Pass = len(r.Reasons) == 0
}

// Verdict lists why a backend's soak failed, each reason naming the
// backend and the metric; none if it passed. Growth is the mean of the
// last fifth over the mean of the first fifth, less one.
func Verdict(backend string, failures int64, causes []string, lost uint64, rssFirst, rssLast, gorFirst, gorLast, maxGrowth float64) []string {
	var out []string
	if failures > 0 {
		out = append(out, fmt.Sprintf("%s: %d failed requests (first: %s)", backend, failures, strings.Join(causes, "; ")))
	}
	if lost > 0 {
		out = append(out, fmt.Sprintf("%s: %d loads found no session: live sessions were lost", backend, lost))
	}
	grew := func(metric string, first, last float64, unit string) {
		// last > first*(1+maxGrowth), not last/first-1 > maxGrowth: the
		// quotient of 1100 and 1000 less one is a hair over 0.10.
		if first > 0 && last > first*(1+maxGrowth) {
			out = append(out, fmt.Sprintf("%s: %s grew %.1f%% (more than %.0f%%) from the first to the last fifth of the run: %.0f%s → %.0f%s",
				backend, metric, 100*(last/first-1), 100*maxGrowth, first, unit, last, unit))
		}
	}
	grew("RSS", rssFirst, rssLast, " kB")
	grew("goroutines", gorFirst, gorLast, "")
	return out
}

// write stores r as OUT/STAMP-soak-BACKEND.json and .md.
func (r *Result) write(out, stamp string) error {
	base := filepath.Join(out, stamp+"-soak-"+r.Backend)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".md", []byte(Markdown([]*Result{r})), 0o644)
}

// Markdown is the results' table, one row per backend, and the failures'
// reasons below it.
func Markdown(rs []*Result) string {
	var b strings.Builder
	b.WriteString("| backend | live | duration | requests | rps | failures | lost | RSS first/last fifth (MiB) | goroutines first/last fifth | result |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	var reasons []string
	for _, r := range rs {
		verdict := "pass"
		if !r.Pass {
			verdict = "**fail**"
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %.0f | %d | %d | %.1f / %.1f (%+.1f%%) | %.1f / %.1f (%+.1f%%) | %s |\n",
			r.Backend, r.Live, (time.Duration(r.DurationSeconds) * time.Second).Round(time.Second), r.Requests, r.RPS,
			r.Failures, r.LostSessions, r.RSSFirstKB/1024, r.RSSLastKB/1024, 100*r.RSSGrowth,
			r.GoroutinesFirst, r.GoroutinesLast, 100*r.GoroutinesGrowth, verdict)
		reasons = append(reasons, r.Reasons...)
	}
	if len(rs) > 0 {
		r := rs[0]
		var mix []string
		for op, w := range r.Mix {
			mix = append(mix, fmt.Sprintf("%s %d", op, w))
		}
		sort.Strings(mix)
		rate := "unthrottled"
		if r.Rate > 0 {
			rate = fmt.Sprintf("%.0f req/s asked", r.Rate)
		}
		fmt.Fprintf(&b, "\n%d workers, %s, mix %s; samples every %s; %s; %s.\n",
			r.Workers, rate, strings.Join(mix, ", "), time.Duration(r.SampleSeconds*float64(time.Second)), r.GoVersion, r.Started.Format("2006-01-02 15:04 UTC"))
	}
	for _, s := range reasons {
		b.WriteString("\n- FAIL " + s + "\n")
	}
	return b.String()
}
