package sqlstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDB records the statements it is given and answers from a script.
type fakeDB struct {
	mu     sync.Mutex
	execs  []string
	args   [][]any
	exec   func(query string, args []any) (int64, error)
	closed bool
}

func (f *fakeDB) Exec(_ context.Context, query string, args ...any) (int64, error) {
	f.mu.Lock()
	f.execs = append(f.execs, query)
	f.args = append(f.args, args)
	f.mu.Unlock()
	if f.exec != nil {
		return f.exec(query, args)
	}
	return 1, nil
}

func (f *fakeDB) QueryRow(context.Context, string, []any, ...any) (bool, error) { return false, nil }

func (f *fakeDB) QueryStrings(context.Context, string, ...any) ([]string, error) { return nil, nil }

func (f *fakeDB) Close() { f.closed = true }

var errConflict = errors.New("lock wait timeout")

var fakeDialect = Dialect{
	Name: "fake",
	Statements: func(t, u string) Statements {
		return Statements{
			Schema: []string{"schema " + t + " " + u},
			Check:  []string{"check " + t, "check " + u},
			Create: "create", Update: "update", Touch: "touch", Delete: "delete",
			Sweep: []string{"sweep " + t, "sweep " + u},
		}
	},
	SweepConflict: func(err error) bool { return errors.Is(err, errConflict) },
}

func newFake(t *testing.T, db *fakeDB, cfg Config) *Store {
	t.Helper()
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	s, err := New(db, fakeDialect, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// TestSweepBatches: each sweep statement deletes at most SweepBatch rows
// and runs again while a batch comes back full, table by table, pausing
// after each full batch.
func TestSweepBatches(t *testing.T) {
	remaining := map[string]int64{"sweep ginkit_sessions": 2*SweepBatch + 17, "sweep ginkit_sessions_users": 3}
	db := &fakeDB{exec: func(q string, args []any) (int64, error) {
		if !strings.HasPrefix(q, "sweep") {
			return 0, nil
		}
		if len(args) != 1 || args[0] != int64(SweepBatch) {
			t.Errorf("%s got arguments %v; want the batch size", q, args)
		}
		n := min(remaining[q], SweepBatch)
		remaining[q] -= n
		return n, nil
	}}
	s := newFake(t, db, Config{CreateTable: true})
	pauses := 0
	defer func(p func(context.Context, time.Duration)) { sweepPause = p }(sweepPause)
	sweepPause = func(context.Context, time.Duration) { pauses++ }
	n, err := s.Sweep(context.Background())
	if pauses != 2 {
		t.Errorf("Sweep paused %d times; want once after each of the 2 full batches", pauses)
	}
	if err != nil || n != 2*SweepBatch+17+3 {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, 2*SweepBatch+20)
	}
	want := []string{"schema ginkit_sessions ginkit_sessions_users",
		"sweep ginkit_sessions", "sweep ginkit_sessions", "sweep ginkit_sessions", "sweep ginkit_sessions_users"}
	if strings.Join(db.execs, "|") != strings.Join(want, "|") {
		t.Fatalf("statements = %q; want %q", db.execs, want)
	}
}

// TestSweepConflictEndsRound: a conflict the dialect recognises ends the
// round without an error; any other error is returned, named.
func TestSweepConflictEndsRound(t *testing.T) {
	fail := errConflict
	db := &fakeDB{exec: func(q string, _ []any) (int64, error) {
		if strings.HasPrefix(q, "sweep") {
			return 0, fail
		}
		return 0, nil
	}}
	s := newFake(t, db, Config{CreateTable: true})
	if n, err := s.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("Sweep meeting a lock conflict = %d, %v; want 0, nil", n, err)
	}
	fail = errors.New("disk full")
	if _, err := s.Sweep(context.Background()); err == nil || err.Error() != "fake: sweep: disk full" {
		t.Fatalf("Sweep = %v; want fake: sweep: disk full", err)
	}
}

// TestSchemaRetried: a failed schema creation is not remembered; the
// next call tries again, and once it succeeds it is not run again.
func TestSchemaRetried(t *testing.T) {
	down := true
	db := &fakeDB{exec: func(q string, _ []any) (int64, error) {
		if down {
			return 0, errors.New("connection refused")
		}
		return 1, nil
	}}
	s := newFake(t, db, Config{CreateTable: true})
	ctx := context.Background()
	_, err := s.Save(ctx, "k", []byte("x"), 0, time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), `fake: save: create table "ginkit_sessions": connection refused`) {
		t.Fatalf("Save with the database down = %v", err)
	}
	down = false
	for range 3 {
		if ok, err := s.Save(ctx, "k", []byte("x"), 0, time.Second); err != nil || !ok {
			t.Fatalf("Save = %v, %v", ok, err)
		}
	}
	schema := 0
	for _, q := range db.execs {
		if strings.HasPrefix(q, "schema") {
			schema++
		}
	}
	if schema != 2 {
		t.Fatalf("the schema ran %d times; want 2 (one failure, one success)", schema)
	}
}

// TestCheckInsteadOfCreate: with CreateTable false the tables are only
// checked, and a failure names both tables and the option.
func TestCheckInsteadOfCreate(t *testing.T) {
	db := &fakeDB{exec: func(q string, _ []any) (int64, error) {
		if strings.HasPrefix(q, "check") {
			return 0, errors.New("no such table")
		}
		return 1, nil
	}}
	s := newFake(t, db, Config{Table: "app"})
	err := s.Delete(context.Background(), "k")
	want := `fake: delete: table "app" or "app_users" unusable and create_table=false: no such table`
	if err == nil || err.Error() != want {
		t.Fatalf("Delete = %v; want %s", err, want)
	}
}

// TestSaveArguments: the arguments of the two save statements, in the
// order the dialects' SQL expects, with a fresh version each time.
func TestSaveArguments(t *testing.T) {
	db := &fakeDB{}
	s := newFake(t, db, Config{CreateTable: true})
	ctx := context.Background()
	if _, err := s.Save(ctx, "k", nil, 0, 1500*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, "k", []byte("r"), 42, time.Hour); err != nil {
		t.Fatal(err)
	}
	c, u := db.args[1], db.args[2]
	if c[0] != "k" || string(c[1].([]byte)) != "" || c[1].([]byte) == nil || c[2].(int64) <= 0 || c[3] != int64(2) {
		t.Errorf("create arguments = %v; want key, empty non-nil record, version, ttl 2ms", c)
	}
	if string(u[0].([]byte)) != "r" || u[1].(int64) <= 0 || u[1] == int64(42) || u[2] != int64(3600000) || u[3] != "k" || u[4] != int64(42) {
		t.Errorf("update arguments = %v", u)
	}
	// A version no Store writes matches nothing, without a statement.
	n := len(db.execs)
	if ok, err := s.Save(ctx, "k", nil, 1<<63, time.Hour); ok || err != nil || len(db.execs) != n {
		t.Errorf("Save(version 1<<63) = %v, %v after %d statements", ok, err, len(db.execs)-n)
	}
}

func TestClosed(t *testing.T) {
	db := &fakeDB{}
	closed := errors.New("fake: driver closed")
	s, err := New(db, fakeDialect, Config{Table: "t", CreateTable: true, SweepInterval: time.Hour, ErrClosed: closed})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !db.closed {
		t.Error("Close did not close the DB adapter")
	}
	calls := map[string]error{"Close": s.Close(ctx), "Delete": s.Delete(ctx, "k"), "Touch": s.Touch(ctx, "k", time.Second)}
	_, _, _, calls["Load"] = s.Load(ctx, "k")
	_, calls["Save"] = s.Save(ctx, "k", nil, 0, time.Second)
	calls["Scan"] = s.Scan(ctx, func(string) error { return nil })
	_, calls["Sweep"] = s.Sweep(ctx)
	calls["IndexUser"] = s.IndexUser(ctx, "u", "k", time.Now())
	calls["UnindexUser"] = s.UnindexUser(ctx, "u", "k")
	_, calls["UserKeys"] = s.UserKeys(ctx, "u")
	for name, err := range calls {
		if err != closed {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
}

func TestBadKeys(t *testing.T) {
	s := newFake(t, &fakeDB{}, Config{CreateTable: true})
	ctx := context.Background()
	for _, k := range []string{"", "a b", "a:b", "ä", strings.Repeat("k", 251)} {
		if _, _, _, err := s.Load(ctx, k); err == nil || !strings.HasPrefix(err.Error(), "fake: load: ") {
			t.Errorf("Load(%q) = %v", k, err)
		}
		if err := s.IndexUser(ctx, k, "key", time.Now()); err == nil {
			t.Errorf("IndexUser(user %q) succeeded", k)
		}
	}
	if !ValidKey(strings.Repeat("k", 250)) || !ValidKey("Az09_-") {
		t.Error("ValidKey rejects a valid key")
	}
}

func TestValidTable(t *testing.T) {
	for _, ok := range []string{"s", "ginkit_sessions", "_x", "App2", strings.Repeat("a", MaxTableLen), "users", "x_user"} {
		if err := ValidTable(ok); err != nil {
			t.Errorf("ValidTable(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "a-b", "a b", `a"b`, "a`b", "a.b", "ä", "x_users", "X_USERS", "x_idx",
		strings.Repeat("a", MaxTableLen+1)} {
		if err := ValidTable(bad); err == nil {
			t.Errorf("ValidTable(%q) = nil", bad)
		}
	}
}

func TestParseQuery(t *testing.T) {
	o, rest, err := ParseQuery("sqlite", "table=app&create_table=0&sweep_interval=-1s&timeout=1s&max_conns=3&sslmode=disable", 10)
	want := Options{Table: "app", CreateTable: false, SweepInterval: 0, Timeout: time.Second, MaxConns: 3}
	if err != nil || o != want || rest.Encode() != "sslmode=disable" {
		t.Fatalf("ParseQuery = %+v, %v, %v", o, rest, err)
	}
	o, _, _ = ParseQuery("sqlite", "", 7)
	if o != (Options{Table: DefaultTable, CreateTable: true, SweepInterval: DefaultSweepInterval, Timeout: DefaultTimeout, MaxConns: 7}) {
		t.Fatalf("defaults = %+v", o)
	}
	// sweep_interval means what Options.SweepInterval means: 0 the
	// default, negative no sweep.
	if o, _, err = ParseQuery("sqlite", "sweep_interval=0", 1); err != nil || o.SweepInterval != DefaultSweepInterval {
		t.Fatalf("sweep_interval=0: %v, %v; want the default %v", o.SweepInterval, err, DefaultSweepInterval)
	}
	if o, _, err = ParseQuery("sqlite", "sweep_interval=-1m", 1); err != nil || o.SweepInterval != 0 {
		t.Fatalf("sweep_interval=-1m: %v, %v; want 0 (no sweep)", o.SweepInterval, err)
	}
	for q, want := range map[string]string{
		"table=a-b":            `sqlite: option "table": "a-b"`,
		"create_table=yes":     `sqlite: option "create_table": "yes": want true or false`,
		"sweep_interval=soon":  `sqlite: option "sweep_interval": "soon"`,
		"timeout=0s":           `sqlite: option "timeout": "0s"`,
		"max_conns=10001":      `sqlite: option "max_conns": "10001"`,
		"x=1&x=2":              `sqlite: option "x": given 2 times`,
		"timeout=1s&timeout=1": `sqlite: option "timeout": given 2 times`,
		"%zz":                  "sqlite: malformed query",
	} {
		if _, _, err := ParseQuery("sqlite", q, 1); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseQuery(%s) = %v; want %s…", q, err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	c := Resolve("", false, 0, 0)
	if c.Table != DefaultTable || !c.CreateTable || c.SweepInterval != DefaultSweepInterval || c.Timeout != DefaultTimeout {
		t.Errorf("Resolve(zero) = %+v", c)
	}
	c = Resolve("t", true, -1, -1)
	if c.Table != "t" || c.CreateTable || c.SweepInterval != 0 || c.Timeout != 0 {
		t.Errorf("Resolve(t, off, off) = %+v", c)
	}
}

func TestNewVersion(t *testing.T) {
	seen := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		v := NewVersion(uint64(i))
		if v == 0 || v > MaxVersion || v == uint64(i) || seen[v] {
			t.Fatalf("NewVersion = %d (old %d, seen %v)", v, i, seen[v])
		}
		seen[v] = true
	}
}

func TestTTLMillis(t *testing.T) {
	for ttl, want := range map[time.Duration]int64{0: 1, time.Nanosecond: 1, time.Millisecond: 1, 1001 * time.Microsecond: 2, time.Hour: 3600000, -time.Second: 1} {
		if got := TTLMillis(ttl); got != want {
			t.Errorf("TTLMillis(%v) = %d; want %d", ttl, got, want)
		}
	}
}
