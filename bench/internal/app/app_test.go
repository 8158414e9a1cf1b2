package app

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
)

func TestSQLSpecs(t *testing.T) {
	want := map[string]string{
		"ginkit/postgres":     "postgres",
		"ginkit/mysql":        "mariadb",
		"ginkit/sqlite":       "sqlite",
		"scs/pgxstore":        "postgres",
		"gincontrib/postgres": "postgres",
	}
	names := SQLNames()
	if len(names) != len(want) {
		t.Fatalf("SQLNames = %v", names)
	}
	for _, n := range names {
		spec, err := ParseName(n)
		if err != nil {
			t.Fatal(err)
		}
		if !spec.IsSQL() || spec.SQLBackend() != want[n] {
			t.Errorf("%s: backend %q; want %q", n, spec.SQLBackend(), want[n])
		}
	}
	for _, n := range Names() {
		if spec, _ := ParseName(n); spec.IsSQL() {
			t.Errorf("headline server %s is a SQL server", n)
		}
	}
	// The headline comparison stays as it was: no SQL server in it.
	for _, n := range Names() {
		if strings.Contains(n, "postgres") || strings.Contains(n, "sqlite") {
			t.Errorf("Names() has %s", n)
		}
	}
}

func TestGinkitSQLDSN(t *testing.T) {
	dir := t.TempDir()
	base := Spec{Lib: "ginkit", PostgresAddr: "127.0.0.1:5999", MySQLAddr: "127.0.0.1:3999", DB: "bench_x_r1", Dir: dir}
	cases := []struct {
		store, want string
		conns       int
	}{
		{"postgres", "postgres://postgres@127.0.0.1:5999/bench_x_r1?sslmode=disable&max_conns=16", 0},
		{"postgres", "postgres://postgres@127.0.0.1:5999/bench_x_r1?sslmode=disable&max_conns=4", 4},
		{"mysql", "mysql://root@127.0.0.1:3999/bench_x_r1?max_conns=16", 0},
	}
	for _, c := range cases {
		spec := base
		spec.Store, spec.SQLConns = c.store, c.conns
		got, err := GinkitDSN(spec)
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.store, got, err, c.want)
		}
	}
	spec := base
	spec.Store, spec.SQLiteConns = "sqlite", 3
	got, err := GinkitDSN(spec)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil || u.Scheme != "sqlite" || u.Path != filepath.ToSlash(filepath.Join(dir, "sessions.db")) || u.Query().Get("max_conns") != "3" {
		t.Errorf("sqlite DSN %q (%v)", got, err)
	}
	spec.SQLiteConns = 0
	if got, _ := GinkitDSN(spec); !strings.HasSuffix(got, "?max_conns=1") {
		t.Errorf("sqlite DSN %q: want the driver's default of one connection", got)
	}
	for _, store := range []string{"postgres", "mysql", "sqlite"} {
		if _, err := GinkitDSN(Spec{Lib: "ginkit", Store: store}); err == nil {
			t.Errorf("%s without a server or folder: no error", store)
		}
	}
}

// TestBuildSQLServersWithoutNetwork builds this project's SQL servers:
// the drivers accept the DSNs (options included) and connect only on
// first use, so no database is needed.
func TestBuildSQLServersWithoutNetwork(t *testing.T) {
	for _, store := range []string{"postgres", "mysql", "sqlite"} {
		spec := Spec{Lib: "ginkit", Store: store, PostgresAddr: "127.0.0.1:1", MySQLAddr: "127.0.0.1:1", DB: "bench_t_r1", Dir: t.TempDir()}
		var got *sessions.Manager
		spec.OnManager = func(m *sessions.Manager) { got = m }
		h, cleanup, err := Build(spec)
		if err != nil {
			t.Errorf("%s: %v", store, err)
			continue
		}
		if h == nil || got == nil {
			t.Errorf("%s: handler %v, OnManager given %v", store, h, got)
		}
		cleanup()
	}
}
