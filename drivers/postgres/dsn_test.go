package postgres

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions/internal/sqlstore"
	"github.com/ginkit/sessions/internal/testserver"
)

func mustParse(t *testing.T, dsn string) (*pgxpool.Config, dsnOptions) {
	t.Helper()
	return testserver.MustParse(t, parseDSN, dsn)
}

func TestParseDSNDefaults(t *testing.T) {
	cfg, o := mustParse(t, "postgres://app:pw@db.example/appdb")
	want := dsnOptions{Options: sqlstore.Options{Table: "ginkit_sessions", CreateTable: true, SweepInterval: 5 * time.Minute, Timeout: 5 * time.Second, MaxConns: 10}, Pipelines: 2}
	if o != want {
		t.Errorf("Options = %+v; want %+v", o, want)
	}
	c := cfg.ConnConfig
	if c.Host != "db.example" || c.Port != 5432 || c.Database != "appdb" || c.User != "app" || c.Password != "pw" {
		t.Errorf("connection = %s:%d/%s user %s", c.Host, c.Port, c.Database, c.User)
	}
	if cfg.MaxConns != 10 {
		t.Errorf("MaxConns = %d; want 10", cfg.MaxConns)
	}
	if c.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement {
		t.Errorf("exec mode = %v; want pgx's statement cache", c.DefaultQueryExecMode)
	}
}

func TestParseDSNOptions(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		check func(*pgxpool.Config, dsnOptions) bool
	}{
		{"postgres://h/db?table=app_sessions", func(_ *pgxpool.Config, o dsnOptions) bool { return o.Table == "app_sessions" }},
		{"postgres://h/db?create_table=false", func(_ *pgxpool.Config, o dsnOptions) bool { return !o.CreateTable }},
		{"postgres://h/db?create_table=true", func(_ *pgxpool.Config, o dsnOptions) bool { return o.CreateTable }},
		{"postgres://h/db?sweep_interval=0", func(_ *pgxpool.Config, o dsnOptions) bool { return o.SweepInterval == sqlstore.DefaultSweepInterval }},
		{"postgres://h/db?sweep_interval=-1s", func(_ *pgxpool.Config, o dsnOptions) bool { return o.SweepInterval == 0 }},
		{"postgres://h/db?sweep_interval=90s", func(_ *pgxpool.Config, o dsnOptions) bool { return o.SweepInterval == 90*time.Second }},
		{"postgres://h/db?pipelines=0", func(_ *pgxpool.Config, o dsnOptions) bool { return o.Pipelines == 0 }},
		{"postgres://h/db?pipelines=8&application_name=web", func(c *pgxpool.Config, o dsnOptions) bool {
			_, sent := c.ConnConfig.RuntimeParams["pipelines"] // not a server parameter
			return o.Pipelines == 8 && !sent
		}},
		{"postgres://h/db?timeout=250ms", func(_ *pgxpool.Config, o dsnOptions) bool { return o.Timeout == 250*time.Millisecond }},
		{"postgres://h/db?max_conns=3", func(c *pgxpool.Config, _ dsnOptions) bool { return c.MaxConns == 3 }},
		{"postgres://h/db?pool_max_conns=7", func(c *pgxpool.Config, _ dsnOptions) bool { return c.MaxConns == 7 }},
		{"postgres://h:6543/db", func(c *pgxpool.Config, _ dsnOptions) bool { return c.ConnConfig.Port == 6543 }},
		{"postgresql://h/db", func(c *pgxpool.Config, _ dsnOptions) bool { return c.ConnConfig.Host == "h" }},
		{"postgres://h/db?sslmode=disable", func(c *pgxpool.Config, _ dsnOptions) bool { return c.ConnConfig.TLSConfig == nil }},
		{"postgres://h/db?sslmode=require", func(c *pgxpool.Config, _ dsnOptions) bool { return c.ConnConfig.TLSConfig != nil }},
		{"postgres://h/db?default_query_exec_mode=simple_protocol", func(c *pgxpool.Config, _ dsnOptions) bool {
			return c.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol
		}},
		{"postgres://h/db?default_query_exec_mode=exec", func(c *pgxpool.Config, _ dsnOptions) bool {
			return c.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeExec
		}},
		{"postgres://h/db?application_name=web&search_path=app", func(c *pgxpool.Config, _ dsnOptions) bool {
			p := c.ConnConfig.RuntimeParams
			return p["application_name"] == "web" && p["search_path"] == "app" && p["table"] == ""
		}},
	} {
		cfg, o := mustParse(t, tc.dsn)
		if !tc.check(cfg, o) {
			t.Errorf("%s: unexpected options %+v", tc.dsn, o)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	parse := func(u *url.URL) error {
		_, _, err := parseDSN(u)
		return err
	}
	sqltest.DSNErrors(t, "postgres: ", parse, map[string][]string{
		"mysql://h/db":                                     {`scheme "mysql"`},
		"postgres:h":                                       {"want postgres://host:port/database"},
		"postgres://h/db?table=bad-name":                   {`"table"`, `"bad-name"`},
		"postgres://h/db?table=1abc":                       {`"table"`, `"1abc"`},
		"postgres://h/db?table=":                           {`"table"`},
		"postgres://h/db?table=x_users":                    {`"table"`, `"x_users"`, "_users"},
		"postgres://h/db?table=x_idx":                      {`"table"`, "_idx"},
		"postgres://h/db?table=" + strings.Repeat("a", 46): {`"table"`, "45"},
		"postgres://h/db?table=a%22b":                      {`"table"`},
		"postgres://h/db?create_table=maybe":               {`"create_table"`, `"maybe"`},
		"postgres://h/db?sweep_interval=soon":              {`"sweep_interval"`, `"soon"`},
		"postgres://h/db?timeout=0":                        {`"timeout"`, `"0"`},
		"postgres://h/db?timeout=x":                        {`"timeout"`, `"x"`},
		"postgres://h/db?pipelines=many":                   {`"pipelines"`, `"many"`},
		"postgres://h/db?pipelines=-1":                     {`"pipelines"`, `"-1"`},
		"postgres://h/db?pipelines=65":                     {`"pipelines"`, `"65"`},
		"postgres://h/db?max_conns=0":                      {`"max_conns"`, `"0"`},
		"postgres://h/db?max_conns=many":                   {`"max_conns"`, `"many"`},
		"postgres://h/db?timeout=1s&timeout=2s":            {`"timeout": given 2 times`},
		"postgres://h/db?sslmode=disable&sslmode=require":  {`"sslmode": given 2 times`},
		"postgres://h/db?max_conns=2&pool_max_conns=3":     {`"max_conns"`, `"pool_max_conns"`},
		"postgres://h/db?sslmode=bogus":                    {"sslmode"},
		"postgres://h/db?pool_max_conns=0":                 {"pool_max_conns"},
		"postgres://h/db?default_query_exec_mode=fast":     {"default_query_exec_mode"},
		"postgres://h/db?a=%zz":                            {"malformed query"},
	})
}

// TestErrorsHidePasswords checks every failing parse, Open and first use
// for the password, given in the user information or as an option.
func TestErrorsHidePasswords(t *testing.T) {
	const pw = "s3cr3t!"
	bad := []string{
		"bogus=%zz", "timeout=soon", "timeout=1s&timeout=2s", "table=a-b", "max_conns=x",
		"sslmode=bogus", "pool_max_conns=x", "sslmode=disable&sslmode=disable",
		"default_query_exec_mode=x", "connect_timeout=x",
	}
	for _, q := range bad {
		for _, dsn := range []string{
			"postgres://user:" + url.QueryEscape(pw) + "@h:1/db?" + q,
			"postgres://user@h:1/db?password=" + url.QueryEscape(pw) + "&" + q,
			"postgres://user@h:1/db?p%61ssword=" + url.QueryEscape(pw) + "&" + q,
			"http://user:" + url.QueryEscape(pw) + "@h:1/db?" + q,
		} {
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = parseDSN(u)
			if err == nil {
				t.Errorf("parseDSN(%s) = nil error", u.Redacted())
				continue
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), url.QueryEscape(pw)) {
				t.Errorf("error shows the password: %v", err)
			}
		}
	}

	// A closed port: Open succeeds (it does not connect), the first
	// operation fails without the password.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u, _ := url.Parse("postgres://user:" + url.QueryEscape(pw) + "@127.0.0.1:" + strconv.Itoa(port) + "/db?connect_timeout=1&sslmode=disable")
	d, err := Open(u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close(context.Background())
	_, _, _, err = d.Load(context.Background(), "k")
	if err == nil {
		t.Fatal("Load against a closed port succeeded")
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("Load error shows the password: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "postgres: load: ") {
		t.Errorf("Load error %q lacks the postgres: load: prefix", err)
	}
}
