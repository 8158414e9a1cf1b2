package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/testserver"
)

// records returns every session dsn holds, key to record bytes, read
// through its driver; it fails the test on a same-store marker.
func records(t *testing.T, dsn string) map[string]string {
	t.Helper()
	ctx := context.Background()
	d, err := sessions.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	out := map[string]string{}
	err = d.(sessions.Scanner).Scan(ctx, func(key string) error {
		if strings.HasPrefix(key, core.SameStoreKeyPrefix) {
			t.Errorf("a same-store marker is left in %s", sessions.RedactDSN(dsn))
		}
		rec, _, _, err := d.Load(ctx, key)
		out[key] = string(rec)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// folder returns every file in the folder of a file:// dsn, name to
// contents; with locks false, without the driver's lock files (empty
// files a write opens once per lock stripe and keeps).
func folder(t *testing.T, dsn string, locks bool) map[string]string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.FromSlash(u.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if !locks && strings.HasPrefix(e.Name(), ".lock-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// redisKeyspace returns every key of database 0 of the server at addr
// with its DUMP, user indexes included.
func redisKeyspace(t *testing.T, addr string) map[string]string {
	t.Helper()
	list, err := testserver.RedisCommand(addr, "KEYS", "*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range strings.Fields(list) {
		v, err := testserver.RedisCommand(addr, "DUMP", k)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func keysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sameMaps fails the test if before and after differ.
func sameMaps(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s changed:\nbefore %q\nafter  %q", what, keysOf(before), keysOf(after))
	}
}

// TestMigrateRefusesOneFolderUnderTwoNames: file:///x and file:///x/
// (or /./) name one folder; migrate between them would find every
// session "already moved" and delete it. It is refused with exit 1
// before anything is touched: every session is still there, byte for
// byte, and no marker is left. Two folders still migrate.
func TestMigrateRefusesOneFolderUnderTwoNames(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 9)
	before, files := records(t, dsn), folder(t, dsn, false)
	if len(before) != 9 {
		t.Fatalf("seeded %d sessions, want 9", len(before))
	}
	for _, args := range [][]string{
		{"--from", dsn, "--to", dsn + "/"},
		{"--from", dsn, "--to", dsn + "/./"},
		{"--from", dsn + "/", "--to", dsn, "--progress", "none"},
	} {
		r := ctl("", append([]string{"migrate"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "name one store") || !strings.Contains(r.stderr, "nothing was touched") || r.stdout != "" {
			t.Errorf("migrate %q: want exit 1 and a refusal, got\n%v", args, r)
		}
		if strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("migrate %q: want one line on stderr, got\n%v", args, r)
		}
		sameMaps(t, "the sessions", before, records(t, dsn))
		sameMaps(t, "the folder", files, folder(t, dsn, false))
	}

	to := fileDSN(t)
	if r := ctl("", "migrate", "--from", dsn+"/./", "--to", to); r.code != 0 || !strings.Contains(r.stdout, "moved:    9\n") {
		t.Fatalf("two folders: got\n%v", r)
	}
	sameMaps(t, "the moved sessions", before, records(t, to))
}

// TestMigrateRefusesOneRedisUnderTwoNames: redis://host:port is database
// 0, as is redis://host:port/0 and redis://localhost:port/0; migrate
// between two of them is refused with exit 1 and the keyspace (sessions,
// user indexes) is unchanged. Database 1 of the same server is another
// store, and migrates.
func TestMigrateRefusesOneRedisUnderTwoNames(t *testing.T) {
	clearEnv(t)
	addr, _ := testserver.StartRedis(t)
	_, port, _ := net.SplitHostPort(addr)
	dsn := "redis://" + addr
	seed(t, dsn, 12)
	before, keyspace := records(t, dsn), redisKeyspace(t, addr)
	if len(before) != 12 {
		t.Fatalf("seeded %d sessions, want 12", len(before))
	}
	pairs := [][2]string{{dsn, dsn + "/0"}, {dsn + "/0", dsn}}
	if ips, err := net.LookupIP("localhost"); err == nil && len(ips) > 0 && allLoopback(ips) {
		pairs = append(pairs, [2]string{dsn, "redis://localhost:" + port + "/0"})
	} else {
		t.Logf("localhost does not resolve to loopback only (%v, %v): that spelling is not tried", ips, err)
	}
	for _, p := range pairs {
		r := ctl("", "migrate", "--from", p[0], "--to", p[1])
		if r.code != 1 || !strings.Contains(r.stderr, "name one store") || r.stdout != "" {
			t.Errorf("migrate %s -> %s: want exit 1 and a refusal, got\n%v", p[0], p[1], r)
		}
		sameMaps(t, "the sessions", before, records(t, dsn))
		sameMaps(t, "the keyspace", keyspace, redisKeyspace(t, addr))
	}

	other := dsn + "/1"
	if r := ctl("", "migrate", "--from", dsn+"/0", "--to", other); r.code != 0 || !strings.Contains(r.stdout, "moved:    12\n") {
		t.Fatalf("database 0 to database 1: got\n%v", r)
	}
	sameMaps(t, "the moved sessions", before, records(t, other))
	if n := countOf(t, dsn); n != 0 {
		t.Fatalf("%d sessions left in database 0", n)
	}
}

func allLoopback(ips []net.IP) bool {
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// TestMigrateDryRun: --dry-run counts what a migrate would do (sessions
// to move, sessions the destination already holds) and changes nothing:
// both folders are byte-identical afterwards, lock files included (it
// writes no marker either). The same holds from a file store to Redis,
// whose whole keyspace is unchanged.
func TestMigrateDryRun(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	from, to := fileDSN(t), fileDSN(t)
	seed(t, from, 10)
	seed(t, to, 2)
	// Three of from's sessions are in to already (a request moved them).
	src, dst := records(t, from), mustOpen(t, to)
	for _, k := range keysOf(src)[:3] {
		if ok, err := dst.Save(ctx, k, []byte(src[k]), 0, time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	fromFiles, toFiles := folder(t, from, true), folder(t, to, true)

	r := ctl("", "migrate", "--dry-run", "--from", from, "--to", to)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("got\n%v", r)
	}
	for _, want := range []string{"migrate --dry-run " + from + " -> " + to + " (nothing was changed)",
		"sessions in the old store: 10\n", "would move:                7 ", "already in the new store:  3 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report lacks %q:\n%v", want, r)
		}
	}
	sameMaps(t, "the old folder", fromFiles, folder(t, from, true))
	sameMaps(t, "the new folder", toFiles, folder(t, to, true))

	addr, _ := testserver.StartRedis(t)
	redis := "redis://" + addr + "/0"
	seed(t, redis, 1)
	keyspace, changes := redisKeyspace(t, addr), redisChanges(t, addr)
	r = ctl("", "migrate", "--dry-run", "--from", from, "--to", redis)
	if r.code != 0 || !strings.Contains(r.stdout, "would move:                10 ") || !strings.Contains(r.stdout, "already in the new store:  0 ") {
		t.Fatalf("file to redis: got\n%v", r)
	}
	sameMaps(t, "the old folder", fromFiles, folder(t, from, true))
	sameMaps(t, "the redis keyspace", keyspace, redisKeyspace(t, addr))
	if after := redisChanges(t, addr); after != changes {
		t.Fatalf("the dry run wrote to Redis: %s changes before, %s after", changes, after)
	}
}

// redisChanges returns how many writes the server at addr has taken since
// it started (it never saves, so the count only grows): a write and the
// delete of what it wrote still count two.
func redisChanges(t *testing.T, addr string) string {
	t.Helper()
	info, err := testserver.RedisCommand(addr, "INFO", "persistence")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "rdb_changes_since_last_save:"); ok {
			return v
		}
	}
	t.Fatalf("no rdb_changes_since_last_save in INFO persistence:\n%s", info)
	return ""
}

// TestMigrateDryRunOneStore: a dry run between two names of one store
// cannot write a marker to find out, so it compares: every session of
// --from is in --to with the same bytes. It says so and exits 1,
// changing nothing.
func TestMigrateDryRunOneStore(t *testing.T) {
	clearEnv(t)
	dsn := fileDSN(t)
	seed(t, dsn, 5)
	files := folder(t, dsn, true)
	r := ctl("", "migrate", "--dry-run", "--from", dsn, "--to", dsn+"/./")
	if r.code != 1 || !strings.Contains(r.stderr, "look like one store") || !strings.Contains(r.stderr, "all 5 sessions") || r.stdout != "" {
		t.Fatalf("want exit 1 and a warning, got\n%v", r)
	}
	sameMaps(t, "the folder", files, folder(t, dsn, true))

	// An empty store has nothing to lose: the dry run reports zero.
	empty := fileDSN(t)
	seed(t, empty, 0)
	if r := ctl("", "migrate", "--dry-run", "--from", empty, "--to", empty+"/"); r.code != 0 || !strings.Contains(r.stdout, "would move:                0 ") {
		t.Fatalf("an empty store: got\n%v", r)
	}
}

// mustOpen opens dsn, closed when the test ends.
func mustOpen(t *testing.T, dsn string) sessions.Driver {
	t.Helper()
	d, err := sessions.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}
