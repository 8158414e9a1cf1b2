package sqlite

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"

	"github.com/ginkit/sessions/internal/sqlstore"
	"github.com/ginkit/sessions/internal/testserver"
)

func mustParse(t *testing.T, dsn string) config {
	t.Helper()
	c, err := parseDSN(testserver.MustURL(t, dsn))
	if err != nil {
		t.Fatalf("parseDSN(%s): %v", dsn, err)
	}
	return c
}

func TestParseDSNDefaults(t *testing.T) {
	c := mustParse(t, "sqlite:///var/lib/app/sessions.db")
	want := sqlstore.Options{Table: "ginkit_sessions", CreateTable: true, SweepInterval: 5 * time.Minute, Timeout: 5 * time.Second, MaxConns: 1}
	if c.opts != want || c.path != "/var/lib/app/sessions.db" || c.busyTimeout != 5*time.Second {
		t.Errorf("config = %+v; want %+v for /var/lib/app/sessions.db, busy timeout 5s", c, want)
	}
	got := fileDSN(c)
	for _, w := range []string{"file:///var/lib/app/sessions.db?", "busy_timeout%285000%29", "journal_mode%28WAL%29", "synchronous%28NORMAL%29"} {
		if !strings.Contains(got, w) {
			t.Errorf("fileDSN = %q; want it to contain %q", got, w)
		}
	}
	// Characters special in a URI are escaped, not spliced.
	c = mustParse(t, "sqlite:///tmp/a%3Fb%23c%20d.db")
	if c.path != "/tmp/a?b#c d.db" {
		t.Errorf("path = %q", c.path)
	}
	if got := fileDSN(c); !strings.HasPrefix(got, "file:///tmp/a%3Fb%23c%20d.db?") {
		t.Errorf("fileDSN = %q", got)
	}
}

func TestParseDSNOptions(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		check func(config) bool
	}{
		{"sqlite:///x.db?table=app_sessions", func(c config) bool { return c.opts.Table == "app_sessions" }},
		{"sqlite:///x.db?create_table=false", func(c config) bool { return !c.opts.CreateTable }},
		{"sqlite:///x.db?sweep_interval=0", func(c config) bool { return c.opts.SweepInterval == sqlstore.DefaultSweepInterval }},
		{"sqlite:///x.db?sweep_interval=-1s", func(c config) bool { return c.opts.SweepInterval == 0 }},
		{"sqlite:///x.db?sweep_interval=1m", func(c config) bool { return c.opts.SweepInterval == time.Minute }},
		{"sqlite:///x.db?timeout=250ms", func(c config) bool { return c.opts.Timeout == 250*time.Millisecond }},
		{"sqlite:///x.db?max_conns=4", func(c config) bool { return c.opts.MaxConns == 4 }},
		{"sqlite:///x.db?busy_timeout=0", func(c config) bool { return c.busyTimeout == 0 }},
		{"sqlite:///x.db?busy_timeout=1500ms", func(c config) bool {
			return c.busyTimeout == 1500*time.Millisecond && strings.Contains(fileDSN(c), "busy_timeout%281500%29")
		}},
	} {
		if c := mustParse(t, tc.dsn); !tc.check(c) {
			t.Errorf("%s: unexpected config %+v", tc.dsn, c)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	parse := func(u *url.URL) error {
		_, err := parseDSN(u)
		return err
	}
	sqltest.DSNErrors(t, "sqlite: ", parse, map[string][]string{
		"file:///x.db":                                   {`scheme "file"`},
		"sqlite://host/x.db":                             {`host "host"`, "three slashes"},
		"sqlite://var/x.db":                              {`host "var"`},
		"sqlite:x.db":                                    {`path "x.db"`, "absolute"},
		"sqlite://":                                      {"absolute"},
		"sqlite:///":                                     {"absolute"},
		"sqlite:///tmp/":                                 {"absolute file path"},
		"sqlite://u:s3cr3t%21@/x.db":                     {"user information"},
		"sqlite:///x.db?bogus=1":                         {`option "bogus": unknown`},
		"sqlite:///x.db?_pragma=foo":                     {`option "_pragma": unknown`},
		"sqlite:///x.db?table=a-b":                       {`"table"`, `"a-b"`},
		"sqlite:///x.db?table=s_users":                   {`"table"`, "_users"},
		"sqlite:///x.db?create_table=maybe":              {`"create_table"`, `"maybe"`},
		"sqlite:///x.db?sweep_interval=soon":             {`"sweep_interval"`, `"soon"`},
		"sqlite:///x.db?timeout=-1s":                     {`"timeout"`, `"-1s"`},
		"sqlite:///x.db?max_conns=0":                     {`"max_conns"`, `"0"`},
		"sqlite:///x.db?busy_timeout=forever":            {`"busy_timeout"`, `"forever"`},
		"sqlite:///x.db?busy_timeout=-1s":                {`"busy_timeout"`, `"-1s"`},
		"sqlite:///x.db?timeout=1s&timeout=1s":           {`"timeout": given 2 times`},
		"sqlite:///x.db?busy_timeout=1s&busy_timeout=1s": {`"busy_timeout": given 2 times`},
		"sqlite:///x.db?a=%zz":                           {"malformed query"},
	})
}
