package sessions_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/errvoice"
)

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// TestErrorVoice pins the shape of Open's errors for a malformed DSN of
// every built-in scheme and for a store that is down: "sessions: open
// <redacted DSN>: <driver>: <cause>", each part once, and a DSN mistake
// worded `<driver>: option "x": …`. (The SQL schemes are checked by
// sessionctl's test, which links them; this package's tests must not.)
func TestErrorVoice(t *testing.T) {
	cases := []struct{ dsn, driver, want string }{
		{"memory://?bogus=1", "memory", `memory: option "bogus": unknown; known options: max_entries, shards, sweep_interval`},
		{"memory://?shards=0", "memory", `memory: option "shards": "0": want`},
		{"memory://?shards=1&shards=2", "memory", `memory: option "shards": given 2 times`},
		{"file:///srv/s?bogus=1", "file", `file: option "bogus": unknown; known options: read_cache, read_cache_bytes, sweep_interval, sync`},
		{"file:///srv/s?sync=maybe", "file", `file: option "sync": "maybe": want true or false`},
		{"redis://:s3cret@127.0.0.1:6379/0?bogus=1", "redis", `redis: option "bogus": unknown; known options: addr, cache_size,`},
		{"redis://:s3cret@127.0.0.1:6379/0?timeout=soon", "redis", `redis: option "timeout": "soon": want`},
		{"redis://h?master_set=m&sentinel_password=s3cret&sentinel_password=s3cret", "redis", `redis: option "sentinel_password": given 2 times`},
		{"redis://h?master_set=m&sentinel_password=s3cret&dial_timeout=0s", "redis", `redis: option "dial_timeout": "0s": want`},
		{"memcached://127.0.0.1:11211?bogus=1", "memcached", `memcached: option "bogus": unknown; known options: max_idle, prefix, timeout`},
		{"memcached://127.0.0.1:11211?timeout=soon", "memcached", `memcached: option "timeout": "soon": want`},
		{"memcached://u:s3cret@127.0.0.1:11211", "memcached", `memcached: user information`},
		{"nosuch://x", "", `unknown scheme "nosuch"`},
		{"not a dsn", "", "malformed DSN"},
	}
	for _, tc := range cases {
		d, err := sessions.Open(tc.dsn)
		if err == nil {
			d.Close(t.Context())
			t.Errorf("Open(%s) succeeded; want an error", tc.dsn)
			continue
		}
		msg := err.Error()
		if want := "sessions: open " + sessions.RedactDSN(tc.dsn) + ": "; !strings.HasPrefix(msg, want) {
			t.Errorf("Open(%s) = %q; want it to start %q", tc.dsn, msg, want)
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("Open(%s) = %q; want it to say %q", tc.dsn, msg, tc.want)
		}
		errvoice.Check(t, msg, tc.dsn, tc.driver)
	}
}

// TestErrorVoiceStoreDown: a Redis that is down, as the current and as
// the previous backend, is named once: the driver says "redis: connect:",
// not the DSN and "open" again.
func TestErrorVoiceStoreDown(t *testing.T) {
	dsn := "redis://:s3cret@127.0.0.1:" + closedPort(t) + "/9?dial_timeout=200ms"
	_, err := sessions.Open(dsn)
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if want := "sessions: open " + sessions.RedactDSN(dsn) + ": redis: connect: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Open = %q; want it to start %q", err, want)
	}
	errvoice.Check(t, err.Error(), dsn, "redis")

	_, err = sessions.NewManager(sessions.Config{DSN: "file://" + t.TempDir(), PreviousDSN: dsn})
	if err == nil {
		t.Fatal("NewManager with a previous backend that is down succeeded")
	}
	if want := "sessions: previous backend: open " + sessions.RedactDSN(dsn) + ": redis: connect: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("NewManager = %q; want it to start %q", err, want)
	}
	errvoice.Check(t, err.Error(), dsn, "redis")
}
