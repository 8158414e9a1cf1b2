package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ginkit/sessions"
)

// terminal is stderr shared by the progress bar and log lines: a line
// written while the bar is drawn first clears the bar (the next update
// draws it again), so the two never garble each other.
type terminal struct {
	mu  sync.Mutex
	w   io.Writer
	bar bool // a bar is drawn on the current line
}

// Write writes whole log lines below any bar.
func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	return t.w.Write(p)
}

func (t *terminal) clearBar() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
}

func (t *terminal) clearLocked() {
	if t.bar {
		fmt.Fprintf(t.w, "\r%s\r", strings.Repeat(" ", barLineWidth))
		t.bar = false
	}
}

// drawBar replaces the current line with line.
func (t *terminal) drawBar(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "\r%-*s", barLineWidth, line)
	t.bar = true
}

// endBar ends the bar's line, leaving its last state visible.
func (t *terminal) endBar() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bar {
		fmt.Fprintln(t.w)
		t.bar = false
	}
}

// barLineWidth is the width of a progress bar line; barWidth that of the
// bar in it.
const (
	barLineWidth = 78
	barWidth     = 30
)

// reporter turns MovePrevious' progress calls into a bar (at most every
// 100ms) or plain lines (every lineEvery), always showing the last state.
type reporter struct {
	t     *terminal
	bar   bool
	every time.Duration
	start time.Time
	last  time.Time
	prev  sessions.MoveProgress
	shown *sessions.MoveProgress // the last state shown, if any
}

func newReporter(t *terminal, bar bool, lineEvery time.Duration) *reporter {
	every := lineEvery
	if bar {
		every = 100 * time.Millisecond
	}
	now := time.Now()
	return &reporter{t: t, bar: bar, every: every, start: now, last: now}
}

// update is the progress callback: it shows p if enough time passed.
func (r *reporter) update(p sessions.MoveProgress) {
	r.prev = p
	if time.Since(r.last) < r.every {
		return
	}
	r.show(p)
}

// finish shows the last state and ends the bar.
func (r *reporter) finish() {
	if r.shown == nil || *r.shown != r.prev {
		r.show(r.prev)
	}
	if r.bar {
		r.t.endBar()
	}
}

func (r *reporter) show(p sessions.MoveProgress) {
	r.last = time.Now()
	r.shown = &p
	rate := ""
	if secs := time.Since(r.start).Seconds(); secs > 0.05 {
		rate = fmt.Sprintf("%.0f/s", float64(p.Done)/secs)
	}
	total := p.Total
	if total >= 0 && p.Done > total {
		total = p.Done // the estimate was low (Redis' SCAN repeats a key)
	}
	if r.bar {
		line := fmt.Sprintf("%d done", p.Done)
		if total > 0 {
			filled := p.Done * barWidth / total
			line = fmt.Sprintf("[%s%s] %d/%d %3d%%", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), p.Done, total, p.Done*100/total)
		}
		if p.Failed > 0 {
			line += fmt.Sprintf(" %d failed", p.Failed)
		}
		r.t.drawBar(line + "  " + rate)
		return
	}
	line := fmt.Sprintf("migrate: %d sessions handled", p.Done)
	if total > 0 {
		line = fmt.Sprintf("migrate: %d of %d sessions handled (%d%%)", p.Done, total, p.Done*100/total)
	}
	line += fmt.Sprintf(": %d moved, %d kept, %d skipped, %d failed", p.Moved, p.Kept, p.Skipped, p.Failed)
	if rate != "" {
		line += ", " + rate
	}
	fmt.Fprintln(r.t, line)
}
