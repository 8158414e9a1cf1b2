package main

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/errvoice"
)

// TestErrorVoice pins what sessionctl prints when a store does not open
// (a malformed DSN of every SQL scheme, which this tool links) or is down:
// "sessionctl <command>: " and then the library's error, naming the store
// once, with one "sessions:" and at most one "open".
func TestErrorVoice(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cases := []struct{ dsn, driver, want string }{
		{"sqlite:///tmp/x.db?bogus=1", "sqlite", `sqlite: option "bogus": unknown; known options: busy_timeout, create_table,`},
		{"sqlite:///tmp/x.db?busy_timeout=soon", "sqlite", `sqlite: option "busy_timeout": "soon": want`},
		{"sqlite://host/x.db", "sqlite", `sqlite: host "host"`},
		{"postgres://u:s3cret@127.0.0.1/db?pipelines=lots", "postgres", `postgres: option "pipelines": "lots": want`},
		{"postgres://u:s3cret@127.0.0.1/db?timeout=1s&timeout=2s", "postgres", `postgres: option "timeout": given 2 times`},
		{"mysql://u:s3cret@127.0.0.1/db?bogus=1", "mysql", `mysql: option "bogus": unknown; known options: connect_timeout, create_table,`},
		{"mariadb://u:s3cret@127.0.0.1/db?tls=maybe", "mysql", `mysql: option "tls": "maybe": want`},
		{"redis://:s3cret@127.0.0.1:" + closed + "/0?dial_timeout=200ms", "redis", "redis: connect: "},
		// A store that is down but opens (the SQL drivers connect on first
		// use), and one that cannot count.
		{"postgres://u:s3cret@127.0.0.1:" + closed + "/db?connect_timeout=2", "postgres", "postgres: "},
		{"memcached://127.0.0.1:" + closed, "", "the driver *memcached.Driver cannot enumerate"},
	}
	for _, tc := range cases {
		r := ctl("", "count", tc.dsn)
		msg := strings.TrimSuffix(r.stderr, "\n")
		if r.code != 1 || !strings.HasPrefix(msg, "sessionctl count: sessions: ") {
			t.Errorf("count %s: %v; want exit 1 and \"sessionctl count: sessions: \" first", tc.dsn, r)
		}
		if !strings.Contains(msg, sessions.RedactDSN(tc.dsn)+": "+tc.want) {
			t.Errorf("count %s: %q; want the DSN, then %q", tc.dsn, msg, tc.want)
		}
		if n := strings.Count(msg, "count"); n != 1 {
			t.Errorf("count %s: %q names the command %d times; want once", tc.dsn, msg, n)
		}
		errvoice.Check(t, msg, tc.dsn, tc.driver)
	}
}
