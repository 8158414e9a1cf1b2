// Command sessionctl is the bulk tool for github.com/ginkit/sessions
// stores: it moves every session from one backend to another without
// logging anyone out, counts sessions, and purges a store.
//
//	go install github.com/ginkit/sessions/cmd/sessionctl@latest
//	sessionctl migrate --from file:///var/lib/app/sessions --to redis://redis:6379/0
//	sessionctl count redis://redis:6379/0
//	sessionctl purge --yes file:///var/lib/app/sessions
//
// go install works from any module; so does Go's tool directive (go get
// -tool github.com/ginkit/sessions/cmd/sessionctl, then go tool
// sessionctl). It knows the built-in schemes only.
//
// Run `sessionctl help` for the details. It never prints a session ID (it
// never has one: stores hold only hashes of IDs), a session's contents,
// or a DSN's password.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ginkit/sessions"
	// The SQL drivers, so that migrate, count and purge take their DSNs.
	_ "github.com/ginkit/sessions/drivers/mysql"
	_ "github.com/ginkit/sessions/drivers/postgres"
	_ "github.com/ginkit/sessions/drivers/sqlite"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command, with its streams given, so tests run it in
// process. It returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{
		stdin:     stdin,
		stdout:    stdout,
		stderr:    stderr,
		stdinTTY:  isTerminal(stdin),
		stderrTTY: isTerminal(stderr),
		lineEvery: 2 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.main(ctx, args)
}

// isTerminal reports whether f is an *os.File open on a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// cli is one invocation: its streams and what they are connected to.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinTTY: a person can answer the purge prompt. stderrTTY: the
	// progress of migrate is drawn as a bar rather than logged in lines.
	stdinTTY, stderrTTY bool
	// lineEvery is how often migrate logs a progress line without a TTY.
	lineEvery time.Duration

	term *terminal // stderr, shared by the progress bar and log lines
}

// usage is the text of `sessionctl help`.
const usage = `sessionctl: bulk tools for github.com/ginkit/sessions session stores

Usage:
  sessionctl migrate [--from DSN] [--to DSN] [--progress auto|bar|lines|none] [--dry-run]
  sessionctl count DSN
  sessionctl purge [--yes] DSN
  sessionctl help [COMMAND]

Commands:
` + migrateSummary + countSummary + purgeSummary + `  help     Print this text, or one command's.

The source of migrate, and the store of count and purge, must be able to
list its sessions: file://, redis:// (rediss://), sqlite://, postgres://
and mysql:// (MariaDB) can. memcached:// cannot:
sessions still move from it one by one as their users return, for as long
as the application runs with SESSION_DSN_PREVIOUS set. memory:// is never
accepted: a memory store lives inside the application's process, so another
process (this one) can neither read nor change it. A scheme your
application registers itself is unknown here: build a small tool of your
own on sessions.Open, sessions.CountSessions and sessions.PurgeSessions
(and Manager.MovePrevious for a move).

Output never contains a session ID (stores hold only hashes of IDs), a
session's contents, or a DSN's password.

Exit status: 0 success; 1 failure (a backend error, sessions left unmoved,
a migrate between two names of one store, a purge not confirmed); 2 usage
error.
`

const migrateSummary = `  migrate  Move every live session from --from to --to, keeping its data,
           its remaining lifetime, its absolute deadline and its user binding;
           each moved session is deleted from --from. Safe while the
           application serves requests with SESSION_DSN=<to> and
           SESSION_DSN_PREVIOUS=<from>. A session --to already holds keeps
           that copy (the old one is deleted). Refuses two DSNs that name
           one store. --dry-run only counts what it would do.
`

const countSummary = `  count    Print the number of live sessions in a store.
`

const purgeSummary = `  purge    Delete every session in a store, logging everyone out. Asks you
           to type yes; --yes skips the question (and is required when stdin
           is not a terminal).
`

const migrateHelp = `Usage: sessionctl migrate [--from DSN] [--to DSN] [--progress auto|bar|lines|none] [--dry-run]

` + migrateSummary + `
Flags:
  --from DSN      the store sessions move away from (default: $SESSION_DSN_PREVIOUS)
  --to DSN        the store they move to (default: $SESSION_DSN)
  --progress M    auto (default): a bar on stderr when it is a terminal, else a
                  line every 2 seconds; bar; lines; none (also skips the
                  counting pass that gives the total)
  --dry-run       change nothing and write nothing to either store: read
                  both and print how many sessions would move and how many
                  --to already holds (exit 1 if --to holds every session of
                  --from with the same bytes: the two DSNs look like one
                  store). Opening a store may still create it, as every
                  command does: a file:// folder and its lock file, an SQL
                  table.

One store under two names (file:///x and file:///x/, redis://h and
redis://h:6379/0) is refused before anything moves, with exit status 1:
every session would be found already in --to and deleted from --from,
emptying the store. migrate finds out by looking, not by comparing the DSNs:
it saves a marker record (key samestore-<random>, one minute to live)
through --to, reads it through --from, and deletes it at once.

Environment: the application's SESSION_* variables are read as the
application reads them. SESSION_ENCRYPTION_KEYS matters: with encryption at
rest, records are opened to enter user-bound sessions in the new store's
user index, and a record that does not open is left in the old store (the
application still moves it when its user returns). SESSION_LIFETIME and
SESSION_ABSOLUTE_LIFETIME apply too (sessions past the absolute lifetime are
deleted, not moved).

The summary (stdout) counts sessions moved, kept (already in the new store),
skipped (expired or ended meanwhile) and failed, the sessions left in the old
store, and the duration. Exit status 1 if any session failed to move, or if
--from and --to are one store.
`

const countHelp = `Usage: sessionctl count DSN

` + countSummary + `
Prints the number alone on stdout. On a store in use it is a moment's
estimate (Redis' SCAN may count a key twice while the keyspace is resized).
`

const purgeHelp = `Usage: sessionctl purge [--yes] DSN

` + purgeSummary + `
Flags:
  --yes   delete without asking

Only session records are deleted; per-user index entries pointing at them are
dead from then on and expire by themselves. Sessions created while the purge
runs may survive.
`

// main dispatches args; ctx ends on an interrupt.
func (c *cli) main(ctx context.Context, args []string) int {
	secrets := secretsOf(args)
	c.stdout = &scrubber{w: c.stdout, secrets: secrets}
	c.stderr = &scrubber{w: c.stderr, secrets: secrets}
	c.term = &terminal{w: c.stderr}
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "migrate":
		return c.migrate(ctx, rest)
	case "count":
		return c.count(ctx, rest)
	case "purge":
		return c.purge(ctx, rest)
	case "help", "-h", "-help", "--help":
		return c.help(rest)
	}
	return c.usageError("", fmt.Sprintf("unknown command %q", cmd))
}

func (c *cli) help(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stdout, usage)
		return exitOK
	}
	if len(args) > 1 {
		return c.usageError("help", "give at most one command")
	}
	text, ok := map[string]string{"migrate": migrateHelp, "count": countHelp, "purge": purgeHelp, "help": usage}[args[0]]
	if !ok {
		return c.usageError("help", fmt.Sprintf("unknown command %q", args[0]))
	}
	fmt.Fprint(c.stdout, text)
	return exitOK
}

// usageError reports a command-line mistake and returns exitUsage.
func (c *cli) usageError(cmd, msg string) int {
	if cmd == "" {
		fmt.Fprintf(c.stderr, "sessionctl: %s\nRun 'sessionctl help' for usage.\n", msg)
	} else {
		fmt.Fprintf(c.stderr, "sessionctl %s: %s\nRun 'sessionctl help %s' for usage.\n", cmd, msg, cmd)
	}
	return exitUsage
}

// failure reports an operation that failed and returns exitFailure.
func (c *cli) failure(cmd string, err error) int {
	c.term.clearBar()
	fmt.Fprintf(c.stderr, "sessionctl %s: %v\n", cmd, err)
	return exitFailure
}

// parse parses args with fs, allowing flags after positional arguments
// (sessionctl purge DSN --yes), and returns the positional ones. "--" ends
// the flags. A -h or --help prints help and is reported as flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseFlags runs parse and turns its errors into an exit code (help:
// exitOK after printing it; a bad flag: exitUsage). ok is false when the
// command should return code.
func (c *cli) parseFlags(cmd, help string, fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := parse(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(c.stdout, help)
		return nil, exitOK, false
	}
	if err != nil {
		return nil, c.usageError(cmd, err.Error()), false
	}
	return pos, 0, true
}

// checkDSN refuses what no command of this tool can use.
func checkDSN(role, dsn string) error {
	if strings.TrimSpace(dsn) == "" {
		return fmt.Errorf("%s: no DSN given", role)
	}
	scheme, _, found := strings.Cut(dsn, ":")
	if found && strings.EqualFold(scheme, "memory") {
		return fmt.Errorf("%s %s: a memory:// store lives inside the application's process and ends with it; another process (this tool) would open a new, empty one, and could neither see nor move the application's sessions", role, sessions.RedactDSN(dsn))
	}
	return nil
}

// closeDriver closes d, waiting at most a few seconds.
func closeDriver(d sessions.Driver) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = d.Close(ctx)
}
