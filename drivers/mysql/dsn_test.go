package mysql

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"

	"github.com/go-sql-driver/mysql"

	"github.com/ginkit/sessions/internal/sqlstore"
	"github.com/ginkit/sessions/internal/testserver"
)

func mustParse(t *testing.T, dsn string) (*mysql.Config, sqlstore.Options) {
	t.Helper()
	return testserver.MustParse(t, parseDSN, dsn)
}

func TestParseDSNDefaults(t *testing.T) {
	cfg, o := mustParse(t, "mysql://app:pw@db.example/appdb")
	want := sqlstore.Options{Table: "ginkit_sessions", CreateTable: true, SweepInterval: 5 * time.Minute, Timeout: 5 * time.Second, MaxConns: 10}
	if o != want {
		t.Errorf("Options = %+v; want %+v", o, want)
	}
	if cfg.User != "app" || cfg.Passwd != "pw" || cfg.Net != "tcp" || cfg.Addr != "db.example:3306" || cfg.DBName != "appdb" {
		t.Errorf("config = %s@%s(%s)/%s", cfg.User, cfg.Net, cfg.Addr, cfg.DBName)
	}
	if cfg.ClientFoundRows || cfg.MultiStatements || cfg.TLSConfig != "" || cfg.Timeout != 5*time.Second {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
	cfg, _ = mustParse(t, "mariadb:///appdb")
	if cfg.Addr != "localhost:3306" || cfg.User != "" {
		t.Errorf("mariadb:///appdb: addr %s user %q", cfg.Addr, cfg.User)
	}
	cfg, _ = mustParse(t, "mysql://[::1]:3307/appdb")
	if cfg.Addr != "[::1]:3307" {
		t.Errorf("IPv6 addr = %s", cfg.Addr)
	}
}

func TestParseDSNOptions(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		check func(*mysql.Config, sqlstore.Options) bool
	}{
		{"mysql://h/db?table=app_sessions", func(_ *mysql.Config, o sqlstore.Options) bool { return o.Table == "app_sessions" }},
		{"mysql://h/db?create_table=false", func(_ *mysql.Config, o sqlstore.Options) bool { return !o.CreateTable }},
		{"mysql://h/db?sweep_interval=0", func(_ *mysql.Config, o sqlstore.Options) bool {
			return o.SweepInterval == sqlstore.DefaultSweepInterval
		}},
		{"mysql://h/db?sweep_interval=-1s", func(_ *mysql.Config, o sqlstore.Options) bool { return o.SweepInterval == 0 }},
		{"mysql://h/db?sweep_interval=10m", func(_ *mysql.Config, o sqlstore.Options) bool { return o.SweepInterval == 10*time.Minute }},
		{"mysql://h/db?timeout=250ms", func(_ *mysql.Config, o sqlstore.Options) bool { return o.Timeout == 250*time.Millisecond }},
		{"mysql://h/db?max_conns=25", func(_ *mysql.Config, o sqlstore.Options) bool { return o.MaxConns == 25 }},
		{"mysql://h/db?connect_timeout=2s", func(c *mysql.Config, _ sqlstore.Options) bool { return c.Timeout == 2*time.Second }},
		{"mysql://h/db?tls=true", func(c *mysql.Config, _ sqlstore.Options) bool { return c.TLSConfig == "true" }},
		{"mysql://h/db?tls=skip-verify", func(c *mysql.Config, _ sqlstore.Options) bool { return c.TLSConfig == "skip-verify" }},
		{"mysql://h/db?tls=preferred", func(c *mysql.Config, _ sqlstore.Options) bool { return c.TLSConfig == "preferred" }},
		{"mysql://h/db?tls=false", func(c *mysql.Config, _ sqlstore.Options) bool { return c.TLSConfig == "false" }},
		{"mysql://u:p%40ss%2Fw%3Ford@h:3307/db", func(c *mysql.Config, _ sqlstore.Options) bool {
			return c.Passwd == "p@ss/w?ord" && c.Addr == "h:3307"
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
	sqltest.DSNErrors(t, "mysql: ", parse, map[string][]string{
		"postgres://h/db":                  {`scheme "postgres"`},
		"mysql:h":                          {"want mysql://host:port/database"},
		"mysql://h":                        {`path ""`, "/database"},
		"mysql://h/":                       {"/database"},
		"mysql://h/a/b":                    {`path "/a/b"`},
		"mysql://h:99999/db":               {`port "99999"`},
		"mysql://h:0/db":                   {`port "0"`},
		"mysql://h/db?bogus=1":             {`option "bogus": unknown`},
		"mysql://h/db?parseTime=true":      {`option "parseTime": unknown`},
		"mysql://h/db?table=bad-name":      {`"table"`, `"bad-name"`},
		"mysql://h/db?table=x_users":       {`"table"`, "_users"},
		"mysql://h/db?create_table=maybe":  {`"create_table"`, `"maybe"`},
		"mysql://h/db?sweep_interval=soon": {`"sweep_interval"`, `"soon"`},
		"mysql://h/db?timeout=0":           {`"timeout"`, `"0"`},
		"mysql://h/db?max_conns=-3":        {`"max_conns"`, `"-3"`},
		"mysql://h/db?connect_timeout=0":   {`"connect_timeout"`, `"0"`},
		"mysql://h/db?connect_timeout=x":   {`"connect_timeout"`, `"x"`},
		"mysql://h/db?tls=maybe":           {`"tls"`, `"maybe"`},
		"mysql://h/db?tls=true&tls=false":  {`"tls": given 2 times`},
		"mysql://h/db?a=%zz":               {"malformed query"},
	})
}

// TestErrorsHidePasswords checks every failing parse and the first use
// against a closed port for the password.
func TestErrorsHidePasswords(t *testing.T) {
	const pw = "s3cr3t!"
	bad := []string{"bogus=1", "timeout=soon", "timeout=1s&timeout=2s", "table=a-b", "tls=x", "a=%zz", "max_conns=x"}
	for _, q := range bad {
		for _, dsn := range []string{
			"mysql://user:" + url.QueryEscape(pw) + "@h:1/db?" + q,
			"mysql://user:" + url.QueryEscape(pw) + "@h:99999/db?" + q,
			"mysql://user:" + url.QueryEscape(pw) + "@h:1/?" + q,
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u, _ := url.Parse("mysql://user:" + url.QueryEscape(pw) + "@127.0.0.1:" + strconv.Itoa(port) + "/db?connect_timeout=1s")
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
	if !strings.HasPrefix(err.Error(), "mysql: load: ") {
		t.Errorf("Load error %q lacks the mysql: load: prefix", err)
	}
}
