package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
)

// migrate moves every session from --from to --to (MovePrevious).
func (c *cli) migrate(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	from := fs.String("from", os.Getenv(sessions.EnvPreviousDSN), "")
	to := fs.String("to", os.Getenv(sessions.EnvDSN), "")
	mode := fs.String("progress", "auto", "")
	dryRun := fs.Bool("dry-run", false, "")
	pos, code, ok := c.parseFlags("migrate", migrateHelp, fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return c.usageError("migrate", fmt.Sprintf("unexpected argument %q: give the stores as --from DSN --to DSN", sessions.RedactDSN(pos[0])))
	}
	if *from == "" || *to == "" {
		return c.usageError("migrate", "give both --from DSN and --to DSN (or set SESSION_DSN_PREVIOUS and SESSION_DSN)")
	}
	if err := checkDSN("--from", *from); err != nil {
		return c.usageError("migrate", err.Error())
	}
	if err := checkDSN("--to", *to); err != nil {
		return c.usageError("migrate", err.Error())
	}
	if *from == *to {
		return c.usageError("migrate", "--from and --to name the same store")
	}
	bar := false
	switch *mode {
	case "auto":
		bar = c.stderrTTY
	case "bar":
		bar = true
	case "lines", "none":
	default:
		return c.usageError("migrate", fmt.Sprintf("--progress %q: want auto, bar, lines or none", *mode))
	}

	if *dryRun {
		return c.migrateDryRun(ctx, *from, *to)
	}

	cfg, err := sessions.ConfigFromEnv()
	if err != nil {
		return c.failure("migrate", fmt.Errorf("the SESSION_* environment: %w", err))
	}
	fromName, toName := sessions.RedactDSN(*from), sessions.RedactDSN(*to)
	toD, err := sessions.Open(*to) // its errors never show the password
	if err != nil {
		return c.failure("migrate", fmt.Errorf("--to: %w", err))
	}
	defer closeDriver(toD)
	fromD, err := sessions.Open(*from)
	if err != nil {
		return c.failure("migrate", fmt.Errorf("--from: %w", err))
	}
	defer closeDriver(fromD)
	// Two spellings of one store (file:///x and file:///x/) would lose
	// every session: each is found "already moved" in --to and deleted
	// from --from. Look before touching anything; the check leaves no
	// marker behind. (NewManager checks again, for every application.)
	same, err := core.SameStore(ctx, fromD, toD)
	if err != nil {
		return c.failure("migrate", fmt.Errorf("check that --from %s and --to %s are two stores: %w; nothing was moved", fromName, toName, err))
	}
	if same {
		return c.failure("migrate", fmt.Errorf("--from %s and --to %s name one store (a record written through --to was read back through --from): "+
			"migrating would delete every session in it; nothing was touched", fromName, toName))
	}
	cfg.DSN, cfg.PreviousDSN = *to, *from
	cfg.Driver, cfg.PreviousDriver = toD, fromD
	cfg.Logger = slog.New(slog.NewTextHandler(c.term, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := sessions.NewManager(cfg)
	if err != nil {
		return c.failure("migrate", err)
	}
	defer m.Close()

	var progress func(sessions.MoveProgress)
	var rep *reporter
	if *mode != "none" {
		fmt.Fprintf(c.term, "migrate: moving sessions from %s to %s; counting them first...\n", fromName, toName)
		rep = newReporter(c.term, bar, c.lineEvery)
		progress = rep.update
	}
	stats, err := m.MovePrevious(ctx, progress)
	if rep != nil && stats.Duration > 0 {
		rep.finish()
	}
	if stats.Duration > 0 { // the move ran (it was not refused up front)
		c.summary(fromName, toName, stats, len(cfg.EncryptionKeys) > 0)
	}
	if err != nil {
		return c.failure("migrate", err)
	}
	return exitOK
}

// summary prints what a move did, on stdout.
func (c *cli) summary(from, to string, s sessions.MoveStats, keys bool) {
	w := c.stdout
	fmt.Fprintf(w, "migrate %s -> %s\n", from, to)
	fmt.Fprintf(w, "  moved:    %d\n", s.Moved)
	fmt.Fprintf(w, "  kept:     %d (already in the new store; the old copy was deleted)\n", s.Kept)
	fmt.Fprintf(w, "  skipped:  %d (expired, ended or past the absolute lifetime)\n", s.Skipped)
	fmt.Fprintf(w, "  failed:   %d (left in the old store)\n", s.Failed)
	if s.Remaining >= 0 {
		fmt.Fprintf(w, "  left in the old store: %d\n", s.Remaining)
	}
	rate := ""
	if secs := s.Duration.Seconds(); secs > 0 {
		rate = fmt.Sprintf(" (%.0f sessions/s)", float64(s.Moved+s.Kept+s.Skipped+s.Failed)/secs)
	}
	fmt.Fprintf(w, "  duration: %v%s\n", s.Duration.Round(roundFor(s.Duration)), rate)
	if s.Unreadable > 0 {
		hint := "they are encrypted with keys other than SESSION_ENCRYPTION_KEYS, or damaged"
		if !keys {
			hint = "if the application encrypts sessions, set SESSION_ENCRYPTION_KEYS to its keys and run migrate again"
		}
		fmt.Fprintf(w, "%d sessions did not open or decode: %s. They stay in the old store, where the application (with its keys) still moves each one when its user returns.\n", s.Unreadable, hint)
	}
	if s.Remaining > s.Failed {
		fmt.Fprintf(w, "%d sessions were written to the old store during the move: are instances with SESSION_DSN=%s still running? Run migrate again once they are gone.\n", s.Remaining-s.Failed, from)
	}
}

// roundFor picks the rounding of a duration for display.
func roundFor(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return 100 * time.Millisecond
	}
	return time.Millisecond
}

// count prints the number of sessions in a store.
func (c *cli) count(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	pos, code, ok := c.parseFlags("count", countHelp, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return c.usageError("count", "give exactly one DSN")
	}
	dsn := pos[0]
	if err := checkDSN("DSN", dsn); err != nil {
		return c.usageError("count", err.Error())
	}
	d, err := sessions.Open(dsn) // its errors never show the password
	if err != nil {
		return c.failure("count", err)
	}
	defer closeDriver(d)
	n, err := sessions.CountSessions(ctx, d)
	if err != nil {
		return c.failure("count", inStore(sessions.RedactDSN(dsn), err))
	}
	fmt.Fprintln(c.stdout, n)
	return exitOK
}

// purge deletes every session in a store, after confirmation.
func (c *cli) purge(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	yes := fs.Bool("yes", false, "")
	pos, code, ok := c.parseFlags("purge", purgeHelp, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return c.usageError("purge", "give exactly one DSN")
	}
	dsn := pos[0]
	if err := checkDSN("DSN", dsn); err != nil {
		return c.usageError("purge", err.Error())
	}
	name := sessions.RedactDSN(dsn)
	d, err := sessions.Open(dsn) // its errors never show the password
	if err != nil {
		return c.failure("purge", err)
	}
	defer closeDriver(d)
	n, err := sessions.CountSessions(ctx, d)
	if err != nil {
		return c.failure("purge", inStore(name, err))
	}
	if n == 0 {
		fmt.Fprintf(c.stdout, "no sessions in %s; nothing to delete\n", name)
		return exitOK
	}
	if !*yes {
		if !c.stdinTTY {
			return c.usageError("purge", fmt.Sprintf("refusing to delete %d sessions from %s without confirmation: stdin is not a terminal, so nobody can answer; pass --yes", n, name))
		}
		fmt.Fprintf(c.stderr, "type yes to delete %d sessions from %s: ", n, name)
		line, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(c.stderr, "purge cancelled; nothing was deleted")
			return exitFailure
		}
	}
	deleted, err := sessions.PurgeSessions(ctx, d)
	if err != nil {
		return c.failure("purge", inStore(name, err))
	}
	fmt.Fprintf(c.stdout, "deleted %d sessions from %s\n", deleted, name)
	return exitOK
}

// inStore names the store of a failed count or purge in err, once: the
// command already names the operation, so the library's own ("count",
// "purge") gives way to the store's redacted DSN, and the text reads
// "sessions: <store>: <driver's cause>" after "sessionctl <command>: ".
func inStore(name string, err error) error {
	if e, ok := err.(*core.Error); ok {
		return &core.Error{Op: name, Kind: e.Kind, Err: e.Err}
	}
	return &core.Error{Op: name, Kind: core.KindOf(err), Err: err}
}
