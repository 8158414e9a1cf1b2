package memcached

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDSN(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want config
	}{
		{"memcached://127.0.0.1:11211", config{[]string{"127.0.0.1:11211"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://cache", config{[]string{"cache:11211"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://cache/", config{[]string{"cache:11211"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://h1:1,h2:2,h3:3", config{[]string{"h1:1", "h2:2", "h3:3"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://h1,h2:2", config{[]string{"h1:11211", "h2:2"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://[::1]:11212", config{[]string{"[::1]:11212"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://[::1]", config{[]string{"[::1]:11211"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://[fe80::1%25eth0]:5", config{[]string{"[fe80::1%eth0]:5"}, DefaultTimeout, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://h?timeout=2s", config{[]string{"h:11211"}, 2 * time.Second, DefaultMaxIdle, DefaultPrefix}},
		{"memcached://h?max_idle=7", config{[]string{"h:11211"}, DefaultTimeout, 7, DefaultPrefix}},
		{"memcached://h?prefix=app1%3As%3A", config{[]string{"h:11211"}, DefaultTimeout, DefaultMaxIdle, "app1:s:"}},
		{"memcached://h?timeout=150ms&max_idle=1&prefix=x", config{[]string{"h:11211"}, 150 * time.Millisecond, 1, "x"}},
	} {
		u, err := url.Parse(c.dsn)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", c.dsn, err)
		}
		got, err := parseDSN(u)
		if err != nil {
			t.Errorf("parseDSN(%q): %v", c.dsn, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseDSN(%q) = %+v; want %+v", c.dsn, got, c.want)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		want []string // each must appear in the error
	}{
		{"memcached://", []string{"no server"}},
		{"memcached://?prefix=x", []string{"no server"}},
		{"memcached:///", []string{"no server"}},
		{"memcached://h1,,h2", []string{"empty server"}},
		{"memcached://h1,", []string{"empty server"}},
		{"memcached://:11211", []string{"empty host"}},
		{"memcached://h:0", []string{`bad port "0"`}},
		{"memcached://h:99999", []string{`bad port "99999"`}},
		{"redis://h", []string{`scheme "redis"`}},
		{"memcached:h", []string{"want memcached://host:port"}},
		{"memcached://h/db", []string{`path "/db"`}},
		{"memcached://h#frag", []string{"fragment"}},
		{"memcached://h#secret", []string{"fragment"}}, // not quoted: a fragment may be a secret
		{"memcached://user:secret@h", []string{"no authentication"}},
		{"memcached://h?bogus=1", []string{`option "bogus": unknown`}},
		{"memcached://h?timeout=1s&timeout=2s", []string{`"timeout": given 2 times`}},
		{"memcached://h?timeout=fast", []string{`"timeout": "fast"`}},
		{"memcached://h?timeout=500", []string{`"timeout": "500"`}},
		{"memcached://h?timeout=-1s", []string{`"timeout": "-1s"`}},
		{"memcached://h?timeout=0s", []string{`"timeout": "0s"`}},
		{"memcached://h?max_idle=0", []string{`"max_idle": "0"`}},
		{"memcached://h?max_idle=lots", []string{`"max_idle": "lots"`}},
		{"memcached://h?prefix=", []string{`"prefix": ""`, "empty"}},
		{"memcached://h?prefix=a+b", []string{`"prefix": "a b"`, "space"}},
		{"memcached://h?prefix=a%0Ab", []string{`"prefix": "a\nb"`, "control"}},
		{"memcached://h?prefix=" + strings.Repeat("p", 101), []string{`"prefix"`, "101 bytes"}},
		{"memcached://h?timeout=%zz", []string{"malformed query"}},
	} {
		u, err := url.Parse(c.dsn)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", c.dsn, err)
		}
		_, err = parseDSN(u)
		if err == nil {
			t.Errorf("parseDSN(%q) succeeded; want an error", c.dsn)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "secret") {
			t.Errorf("parseDSN(%q) error %q reveals the password", c.dsn, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("parseDSN(%q) error %q does not contain %q", c.dsn, msg, w)
			}
		}
	}
}

// TestParseServer covers hosts url.Parse rejects but a hand-built url.URL
// may hold.
func TestParseServer(t *testing.T) {
	for h, want := range map[string]string{
		"[::1]x":     "after IPv6",
		"[::1":       "missing ]",
		"::1":        "in brackets",
		"[]:5":       "empty host",
		"h:":         `bad port ""`,
		"h:+5":       `bad port "+5"`,
		"[::1]:port": `bad port "port"`,
	} {
		if _, err := parseServer(h); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseServer(%q) = %v; want an error containing %q", h, err, want)
		}
	}
	u := &url.URL{Scheme: "memcached", Host: "[::1]:1,[::2]:2"}
	got, err := parseDSN(u)
	if err != nil || !reflect.DeepEqual(got.servers, []string{"[::1]:1", "[::2]:2"}) {
		t.Errorf("parseDSN(hand-built IPv6 list) = %v, %v", got.servers, err)
	}
}

func TestOpen(t *testing.T) {
	u, _ := url.Parse("memcached://127.0.0.1:1,127.0.0.1:2?timeout=3s&max_idle=9&prefix=p:")
	d, err := Open(u)
	if err != nil {
		t.Fatal(err)
	}
	if d.client.Timeout != 3*time.Second || d.client.MaxIdleConns != 9 || d.prefix != "p:" || !d.owned {
		t.Errorf("Open: timeout %v, max idle %d, prefix %q, owned %v", d.client.Timeout, d.client.MaxIdleConns, d.prefix, d.owned)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}

	u, _ = url.Parse("memcached://127.0.0.1")
	d, err = Open(u)
	if err != nil {
		t.Fatal(err)
	}
	if d.client.Timeout != 500*time.Millisecond || d.client.MaxIdleConns != 64 || d.prefix != "sess:" {
		t.Errorf("Open defaults: timeout %v, max idle %d, prefix %q", d.client.Timeout, d.client.MaxIdleConns, d.prefix)
	}

	u, _ = url.Parse("memcached://h?nope=1")
	if _, err := Open(u); err == nil || !strings.HasPrefix(err.Error(), "memcached: ") {
		t.Errorf("Open(unknown option) = %v; want a wrapped error", err)
	}
	if _, err := Open(nil); err == nil {
		t.Error("Open(nil) succeeded")
	}
}
