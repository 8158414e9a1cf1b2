package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/testserver"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	testserver.StopShared()
	os.Exit(code)
}

// clearEnv empties the SESSION_* variables for the test (empty counts as
// unset), so the caller's environment cannot leak in.
func clearEnv(t *testing.T) {
	for _, v := range []string{sessions.EnvDSN, sessions.EnvPreviousDSN, sessions.EnvLifetime, sessions.EnvAbsoluteLifetime,
		sessions.EnvCookieName, sessions.EnvPath, sessions.EnvDomain, sessions.EnvSecure, sessions.EnvHTTPOnly,
		sessions.EnvSameSite, sessions.EnvExpireOnClose, sessions.EnvEncryptionKeys} {
		t.Setenv(v, "")
	}
}

// result is one in-process run of the command.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs sessionctl with args and stdin, as main would (no terminal).
func ctl(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// ctlTTY runs sessionctl as if stdin and stderr were a terminal.
func ctlTTY(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, stdinTTY: true, stderrTTY: true, lineEvery: time.Second}
	code := c.main(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

func fileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

// seed creates n sessions in dsn through the middleware, every fourth one
// bound to user "u<i>", and returns their IDs.
func seed(t *testing.T, dsn string, n int, keys ...[]byte) []string {
	t.Helper()
	m := manager(t, dsn, keys...)
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/seed/:i", func(c *gin.Context) {
		sessions.Set(c, "i", c.Param("i"))
		if i := c.Param("i"); strings.HasSuffix(i, "0") || strings.HasSuffix(i, "4") || strings.HasSuffix(i, "8") {
			if err := sessions.SetUser(c, "u"+i); err != nil {
				c.Status(500)
				return
			}
		}
		c.Status(204)
	})
	ids := make([]string, n)
	for i := range ids {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/seed/%d", i), nil))
		if rec.Code != 204 {
			t.Fatalf("seeding: %d", rec.Code)
		}
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			ids[i] = c.Value
		}
	}
	return ids
}

func manager(t *testing.T, dsn string, keys ...[]byte) *sessions.Manager {
	t.Helper()
	cfg := sessions.DefaultConfig()
	cfg.DSN = dsn
	cfg.EncryptionKeys = keys
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := sessions.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// countOf counts dsn's sessions without the command.
func countOf(t *testing.T, dsn string) int {
	t.Helper()
	d, err := sessions.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	n, err := sessions.CountSessions(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUsage(t *testing.T) {
	clearEnv(t)
	dir := fileDSN(t)
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout+stderr
	}{
		{nil, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "sessionctl migrate [--from DSN]"},
		{[]string{"--help"}, 0, "Usage:"},
		{[]string{"help", "purge"}, 0, "--yes"},
		{[]string{"help", "nope"}, 2, "unknown command"},
		{[]string{"migrate", "-h"}, 0, "SESSION_ENCRYPTION_KEYS"},
		{[]string{"migrate"}, 2, "give both --from DSN and --to DSN"},
		{[]string{"migrate", "--from", dir}, 2, "give both"},
		{[]string{"migrate", "--from", dir, "--to", dir}, 2, "the same store"},
		{[]string{"migrate", "--from", dir, "--to", fileDSN(t), "--progress", "fancy"}, 2, "want auto, bar, lines or none"},
		{[]string{"migrate", "--from", dir, "--to", fileDSN(t), "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"migrate", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"count"}, 2, "give exactly one DSN"},
		{[]string{"count", dir, dir}, 2, "give exactly one DSN"},
		{[]string{"count", "--yes", dir}, 2, "not defined: -yes"},
		{[]string{"purge"}, 2, "give exactly one DSN"},
		{[]string{"purge", "--force", dir}, 2, "not defined: -force"},
	} {
		r := ctl("", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("sessionctl %q: want exit %d and %q, got\n%v", tc.args, tc.code, tc.want, r)
		}
	}
}

func TestMemoryIsRefused(t *testing.T) {
	clearEnv(t)
	for _, args := range [][]string{
		{"count", "memory://"},
		{"purge", "--yes", "memory://"},
		{"migrate", "--from", "memory://", "--to", fileDSN(t)},
		{"migrate", "--from", fileDSN(t), "--to", "MEMORY://?max_entries=10"},
	} {
		r := ctl("", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "lives inside the application's process") {
			t.Errorf("sessionctl %q: want exit 2 explaining why, got\n%v", args, r)
		}
	}
}

func TestCount(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 5)
	r := ctl("", "count", dsn)
	if r.code != 0 || r.stdout != "5\n" {
		t.Fatalf("want 5, got\n%v", r)
	}
	if r := ctl("", "count", fileDSN(t)); r.code != 0 || r.stdout != "0\n" {
		t.Fatalf("an empty store: want 0, got\n%v", r)
	}
}

func TestCountCannotEnumerate(t *testing.T) {
	clearEnv(t)
	addr, _ := testserver.StartMemcached(t)
	dsn := "memcached://" + addr
	for _, args := range [][]string{{"count", dsn}, {"purge", "--yes", dsn}, {"migrate", "--from", dsn, "--to", fileDSN(t)}} {
		r := ctl("", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "cannot enumerate") {
			t.Errorf("sessionctl %q: want exit 1 saying it cannot enumerate, got\n%v", args, r)
		}
	}
}

func TestPurgeWithoutTerminalRefuses(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 4)
	r := ctl("yes\n", "purge", dsn)
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("want a refusal, got\n%v", r)
	}
	if n := countOf(t, dsn); n != 4 {
		t.Fatalf("%d sessions left, want 4", n)
	}
}

func TestPurgePrompt(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 4)
	for _, answer := range []string{"no\n", "", "y\n", "YES\n"} {
		r := ctlTTY(answer, "purge", dsn)
		if r.code != 1 || !strings.Contains(r.stderr, "type yes to delete 4 sessions from "+dsn+": ") || !strings.Contains(r.stderr, "nothing was deleted") {
			t.Fatalf("answer %q: want the prompt and a cancel, got\n%v", answer, r)
		}
		if n := countOf(t, dsn); n != 4 {
			t.Fatalf("answer %q: %d sessions left, want 4", answer, n)
		}
	}
	r := ctlTTY("yes\n", "purge", dsn)
	if r.code != 0 || !strings.Contains(r.stdout, "deleted 4 sessions from "+dsn) {
		t.Fatalf("answer yes: got\n%v", r)
	}
	if n := countOf(t, dsn); n != 0 {
		t.Fatalf("%d sessions left after the purge", n)
	}
	if r := ctlTTY("", "purge", dsn); r.code != 0 || !strings.Contains(r.stdout, "nothing to delete") || strings.Contains(r.stderr, "type yes") {
		t.Fatalf("an empty store: got\n%v", r)
	}
}

func TestPurgeYes(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 6)
	r := ctl("", "purge", dsn, "--yes") // flags may follow the DSN
	if r.code != 0 || r.stdout != "deleted 6 sessions from "+dsn+"\n" || r.stderr != "" {
		t.Fatalf("got\n%v", r)
	}
	if n := countOf(t, dsn); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// checkMoved asserts that every session of ids is in dsn with its value,
// and that user-bound ones are listed in its user index.
func checkMoved(t *testing.T, dsn string, ids []string, keys ...[]byte) {
	t.Helper()
	ctx := context.Background()
	m := manager(t, dsn, keys...)
	for i, id := range ids {
		s, err := m.Snapshot(ctx, id)
		if err != nil || s == nil {
			t.Fatalf("session %d: %v, %v", i, s, err)
		}
		if v, _ := sessions.SnapshotValue[string](s, "i"); v != fmt.Sprint(i) {
			t.Fatalf("session %d holds %q", i, v)
		}
		if s.User != "" {
			list, err := m.UserSessions(ctx, s.User)
			if err != nil || len(list) != 1 || list[0].IDHash != core.StoreKey(id) {
				t.Fatalf("session %d: UserSessions(%s) = %v, %v", i, s.User, list, err)
			}
		}
	}
}

func TestMigrateFileToFile(t *testing.T) {
	clearEnv(t)
	from, to := fileDSN(t), fileDSN(t)
	ids := seed(t, from, 25)
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, lineEvery: time.Nanosecond}
	code := c.main(context.Background(), []string{"migrate", "--from", from, "--to", to})
	r := result{code, out.String(), errb.String()}
	if r.code != 0 {
		t.Fatalf("got\n%v", r)
	}
	for _, want := range []string{"migrate " + from + " -> " + to, "moved:    25\n", "kept:     0 ", "skipped:  0 ", "failed:   0 ", "left in the old store: 0\n", "duration: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%v", want, r)
		}
	}
	if !strings.Contains(r.stderr, "migrate: 25 of 25 sessions handled (100%): 25 moved, 0 kept, 0 skipped, 0 failed") {
		t.Errorf("no final progress line on stderr (not a terminal):\n%v", r)
	}
	if strings.Contains(r.stderr, "\r") {
		t.Errorf("a bar was drawn on a non-terminal:\n%q", r.stderr)
	}
	if n := countOf(t, from); n != 0 {
		t.Fatalf("%d sessions left in the old store", n)
	}
	checkMoved(t, to, ids)
	for _, id := range ids {
		if strings.Contains(r.stdout+r.stderr, id) {
			t.Fatal("the output holds a raw session ID")
		}
	}
}

// TestSQLStores: count, migrate and purge from and to the SQL drivers
// (SQLite in a temp folder and PostgreSQL, with the same code as MariaDB):
// file -> sqlite -> postgres, every session kept, then purged.
func TestSQLStores(t *testing.T) {
	clearEnv(t)
	file := fileDSN(t)
	lite := "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "s.db"))
	pg := testserver.SharedPostgres(t)
	pgDSN := pg.DSN(pg.NewDatabase(t), "")
	ids := seed(t, file, 12)
	for _, step := range [][2]string{{file, lite}, {lite, pgDSN}} {
		if r := ctl("", "migrate", "--from", step[0], "--to", step[1]); r.code != 0 || !strings.Contains(r.stdout, "moved:    12\n") {
			t.Fatalf("migrate %s -> %s:\n%v", sessions.RedactDSN(step[0]), sessions.RedactDSN(step[1]), r)
		}
		if r := ctl("", "count", step[1]); r.code != 0 || r.stdout != "12\n" {
			t.Fatalf("count %s: want 12, got\n%v", sessions.RedactDSN(step[1]), r)
		}
	}
	checkMoved(t, pgDSN, ids)
	if r := ctl("", "purge", "--yes", pgDSN); r.code != 0 {
		t.Fatalf("purge:\n%v", r)
	}
	if n := countOf(t, pgDSN); n != 0 {
		t.Fatalf("%d sessions left after purge", n)
	}
}

func TestMigrateFromEnvironmentWithBar(t *testing.T) {
	clearEnv(t)
	from, to := fileDSN(t), fileDSN(t)
	ids := seed(t, from, 12)
	t.Setenv(sessions.EnvPreviousDSN, from)
	t.Setenv(sessions.EnvDSN, to)
	r := ctlTTY("", "migrate")
	if r.code != 0 || !strings.Contains(r.stdout, "moved:    12\n") {
		t.Fatalf("got\n%v", r)
	}
	if !strings.Contains(r.stderr, "\r[##############################] 12/12 100%") || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("want a bar ending full on a terminal, got %q", r.stderr)
	}
	checkMoved(t, to, ids)

	// --progress none: no counting pass, no progress, the same summary.
	if r := ctl("", "migrate", "--progress", "none", "--from", to, "--to", from); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "moved:    12\n") {
		t.Fatalf("--progress none: got\n%v", r)
	}
}

func TestMigrateEncrypted(t *testing.T) {
	clearEnv(t)
	from, to := fileDSN(t), fileDSN(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	ids := seed(t, from, 8, key)

	r := ctl("", "migrate", "--from", from, "--to", to)
	if r.code != 1 || !strings.Contains(r.stdout, "failed:   8 ") || !strings.Contains(r.stdout, "set SESSION_ENCRYPTION_KEYS") {
		t.Fatalf("without the keys: want a failure with a hint, got\n%v", r)
	}
	if n := countOf(t, from); n != 8 {
		t.Fatalf("without the keys nothing may move; %d left", n)
	}

	b64 := base64.StdEncoding.EncodeToString(key)
	t.Setenv(sessions.EnvEncryptionKeys, b64)
	r = ctl("", "migrate", "--from", from, "--to", to)
	if r.code != 0 || !strings.Contains(r.stdout, "moved:    8\n") {
		t.Fatalf("with the keys: got\n%v", r)
	}
	if strings.Contains(r.stdout+r.stderr, b64) {
		t.Fatal("the output holds the encryption key")
	}
	checkMoved(t, to, ids, key)
}

func TestPasswordsNeverShown(t *testing.T) {
	clearEnv(t)
	const pw, spw = "hunter2-Sup3rSecret", "sentinel-0nly-Secret"
	port := testserver.FreePort(t) // nothing listens there
	redisDSN := fmt.Sprintf("redis://app:%s@127.0.0.1:%d/0?dial_timeout=200ms", pw, port)
	sentinelDSN := fmt.Sprintf("redis://:%s@127.0.0.1:%d/0?master_set=mymaster&sentinel_password=%s&dial_timeout=200ms", pw, port, spw)
	badFile := "file://user:" + pw + "@/tmp/x"
	t.Setenv(sessions.EnvDSN, redisDSN)
	var all strings.Builder
	for _, args := range [][]string{
		{"count", redisDSN},
		{"count", sentinelDSN},
		{"count", badFile},
		{"purge", "--yes", redisDSN},
		{"purge", sentinelDSN},
		{"migrate", "--from", fileDSN(t)}, // --to from SESSION_DSN
		{"migrate", "--from=" + sentinelDSN, "--to=" + redisDSN},
		{"migrate", "--from", redisDSN, "--to", redisDSN},
		{"migrate", "--from", fileDSN(t), "--to", fileDSN(t), sentinelDSN},
		{"count", "redis://:" + pw + "@[::1"},
		{"count", fmt.Sprintf("redis://:Zk7Q/%s@127.0.0.1:%d", pw, port)},
		{"purge", "--yes", fmt.Sprintf("rediss://127.0.0.1:%d/0?master_set=m&sentinel_password=%s", port, spw)},
		{"count", fmt.Sprintf("redis://127.0.0.1:%d/0?p%%61ssword=%s#%s", port, spw, pw)},
		{"count", fmt.Sprintf("memcached://127.0.0.1:%d?CLIENT_SECRET=%s&%%74oken=%s", port, spw, pw)},
	} {
		r := ctl("", args...)
		if r.code == 0 {
			t.Errorf("sessionctl %q succeeded against nothing:\n%v", args, r)
		}
		all.WriteString(r.String())
	}
	if s := all.String(); strings.Contains(s, pw) || strings.Contains(s, spw) || strings.Contains(s, "Secret") {
		t.Fatalf("a password appears in the output:\n%s", s)
	}
	if !strings.Contains(all.String(), "xxxxx") {
		t.Fatalf("no redacted DSN shown at all:\n%s", all.String())
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"memory://":               "memory://",
		"file:///var/lib/s":       "file:///var/lib/s",
		"redis://u:p4ss@h:6379/0": "redis://u:xxxxx@h:6379/0",
		"redis://h/0?master_set=m&sentinel_password=zz&prefix=a": "redis://h/0?master_set=m&sentinel_password=xxxxx&prefix=a",
		"memcached://h1:11211,h2:11211":                          "memcached://h1:11211,h2:11211",
		"redis://:Zk7Qvp/ssJw3Xe@127.0.0.1:1":                    "redis://:xxxxx@127.0.0.1:1",
		"file:///srv/a:b@c/sessions":                             "file:///srv/a:b@c/sessions",
	} {
		if got := sessions.RedactDSN(in); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMigrateFileToRedisAndCount(t *testing.T) {
	clearEnv(t)
	addr, _ := testserver.StartRedis(t)
	from, to := fileDSN(t), "redis://"+addr+"/0"
	ids := seed(t, from, 200)
	r := ctl("", "migrate", "--from", from, "--to", to)
	if r.code != 0 || !strings.Contains(r.stdout, "moved:    200\n") {
		t.Fatalf("got\n%v", r)
	}
	t.Logf("file -> redis, 200 sessions:\n%s", r.stdout)
	if r := ctl("", "count", to); r.code != 0 || r.stdout != "200\n" {
		t.Fatalf("count: got\n%v", r)
	}
	if r := ctl("", "count", from); r.code != 0 || r.stdout != "0\n" {
		t.Fatalf("count of the old store: got\n%v", r)
	}
	checkMoved(t, to, ids)
	if r := ctl("", "purge", "--yes", to); r.code != 0 || r.stdout != "deleted 200 sessions from "+to+"\n" {
		t.Fatalf("purge: got\n%v", r)
	}
	if r := ctl("", "count", to); r.stdout != "0\n" {
		t.Fatalf("count after the purge: got\n%v", r)
	}
}
