package redis

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/testserver"
	"github.com/redis/rueidis"
)

func mustParse(t *testing.T, dsn string) (rueidis.ClientOption, Options) {
	t.Helper()
	return testserver.MustParse(t, parseDSN, dsn)
}

func TestParseDSNDefaults(t *testing.T) {
	opt, o := mustParse(t, "redis://127.0.0.1:6380")
	if o.Prefix != "sess:" || o.Timeout != 5*time.Second {
		t.Errorf("Options = %+v; want prefix sess: and timeout 5s", o)
	}
	if !slices.Equal(opt.InitAddress, []string{"127.0.0.1:6380"}) {
		t.Errorf("InitAddress = %v", opt.InitAddress)
	}
	if !opt.DisableCache || opt.DisableAutoPipelining || opt.AlwaysRESP2 || opt.TLSConfig != nil || opt.SelectDB != 0 {
		t.Errorf("unexpected defaults: %+v", opt)
	}
	if opt.Sentinel.MasterSet != "" || opt.Sentinel.TopologyRefreshInterval != 0 {
		t.Errorf("sentinel set without master_set: %+v", opt.Sentinel)
	}

	opt, _ = mustParse(t, "redis://")
	if !slices.Equal(opt.InitAddress, []string{"localhost:6379"}) {
		t.Errorf("InitAddress for redis:// = %v; want localhost:6379", opt.InitAddress)
	}
	opt, _ = mustParse(t, "redis://example.com/")
	if !slices.Equal(opt.InitAddress, []string{"example.com:6379"}) || opt.SelectDB != 0 {
		t.Errorf("redis://example.com/ = %v db %d", opt.InitAddress, opt.SelectDB)
	}
}

func TestParseDSNOptions(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		check func(rueidis.ClientOption, Options) bool
	}{
		{"redis://h?prefix=app%3A", func(_ rueidis.ClientOption, o Options) bool { return o.Prefix == "app:" }},
		{"redis://h?timeout=250ms", func(_ rueidis.ClientOption, o Options) bool { return o.Timeout == 250*time.Millisecond }},
		{"redis://h/3", func(c rueidis.ClientOption, _ Options) bool { return c.SelectDB == 3 }},
		{"redis://h?db=4", func(c rueidis.ClientOption, _ Options) bool { return c.SelectDB == 4 }},
		{"redis://u:p@h", func(c rueidis.ClientOption, _ Options) bool { return c.Username == "u" && c.Password == "p" }},
		{"redis://:p@h", func(c rueidis.ClientOption, _ Options) bool { return c.Username == "" && c.Password == "p" }},
		{"redis://a:1?addr=b:2&addr=c:3", func(c rueidis.ClientOption, _ Options) bool {
			return slices.Equal(c.InitAddress, []string{"a:1", "b:2", "c:3"})
		}},
		{"redis://s:26379?master_set=mymaster", func(c rueidis.ClientOption, _ Options) bool {
			return c.Sentinel.MasterSet == "mymaster" && c.Sentinel.TopologyRefreshInterval == 5*time.Second &&
				c.Sentinel.Dialer.Timeout == c.Dialer.Timeout && c.Sentinel.TLSConfig == nil
		}},
		{"redis://s?master_set=m&sentinel_username=su&sentinel_password=sp&sentinel_refresh=0", func(c rueidis.ClientOption, _ Options) bool {
			return c.Sentinel.Username == "su" && c.Sentinel.Password == "sp" && c.Sentinel.TopologyRefreshInterval == 0
		}},
		{"redis://s?master_set=m&sentinel_refresh=2s&dial_timeout=3s&keep_alive=2s&client_name=app", func(c rueidis.ClientOption, _ Options) bool {
			return c.Sentinel.TopologyRefreshInterval == 2*time.Second && c.Sentinel.Dialer.Timeout == 3*time.Second &&
				c.Sentinel.Dialer.KeepAlive == 2*time.Second && c.Sentinel.ClientName == "app"
		}},
		{"rediss://s?master_set=m", func(c rueidis.ClientOption, _ Options) bool {
			return c.TLSConfig != nil && c.Sentinel.TLSConfig != nil && c.Sentinel.TLSConfig != c.TLSConfig
		}},
		{"redis://h?dial_timeout=2s", func(c rueidis.ClientOption, _ Options) bool { return c.Dialer.Timeout == 2*time.Second }},
		{"redis://h?write_timeout=3s", func(c rueidis.ClientOption, _ Options) bool { return c.ConnWriteTimeout == 3*time.Second }},
		{"redis://h?keep_alive=4s", func(c rueidis.ClientOption, _ Options) bool { return c.Dialer.KeepAlive == 4*time.Second }},
		{"redis://h?conn_lifetime=1h", func(c rueidis.ClientOption, _ Options) bool { return c.ConnLifetime == time.Hour }},
		{"redis://h?max_flush_delay=20us", func(c rueidis.ClientOption, _ Options) bool { return c.MaxFlushDelay == 20*time.Microsecond }},
		{"redis://h?pipeline_multiplex=3", func(c rueidis.ClientOption, _ Options) bool { return c.PipelineMultiplex == 3 }},
		{"redis://h?pipeline_multiplex=0", func(c rueidis.ClientOption, _ Options) bool { return c.PipelineMultiplex == -1 }},
		{"redis://h?client_name=web-1", func(c rueidis.ClientOption, _ Options) bool { return c.ClientName == "web-1" }},
		{"redis://h?protocol=2", func(c rueidis.ClientOption, _ Options) bool { return c.AlwaysRESP2 }},
		{"redis://h?protocol=3", func(c rueidis.ClientOption, _ Options) bool { return !c.AlwaysRESP2 }},
		{"redis://h?client_cache=false", func(c rueidis.ClientOption, o Options) bool { return c.DisableCache && !o.ClientCache }},
		{"redis://h?client_cache=true", func(c rueidis.ClientOption, o Options) bool { return !c.DisableCache && o.ClientCache }},
		{"redis://h?client_cache=true&cache_size=64MiB", func(c rueidis.ClientOption, o Options) bool {
			return o.ClientCache && c.CacheSizeEachConn == 64<<20
		}},
		{"redis://h?client_cache=1&cache_size=1000", func(c rueidis.ClientOption, o Options) bool {
			return o.ClientCache && c.CacheSizeEachConn == 1000
		}},
		{"rediss://h.example:6380", func(c rueidis.ClientOption, _ Options) bool {
			return c.TLSConfig != nil && c.TLSConfig.ServerName == "h.example" && !c.TLSConfig.InsecureSkipVerify
		}},
		{"rediss://h?skip_verify=true", func(c rueidis.ClientOption, _ Options) bool { return c.TLSConfig.InsecureSkipVerify }},
		{"rediss://h?skip_verify", func(c rueidis.ClientOption, _ Options) bool { return c.TLSConfig.InsecureSkipVerify }},
		{"rediss://h?skip_verify=false", func(c rueidis.ClientOption, _ Options) bool { return !c.TLSConfig.InsecureSkipVerify }},
	} {
		opt, o := mustParse(t, tc.dsn)
		if !tc.check(opt, o) {
			t.Errorf("%s: unexpected options %+v / %+v", tc.dsn, opt, o)
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want []string // each must appear in the error
	}{
		{"http://h", []string{`scheme "http"`}},
		{"redis:h", []string{"want redis://host:port"}},
		{"redis://h?bogus=1", []string{`option "bogus": unknown`}},
		{"redis://h?timeout=soon", []string{"timeout", `"soon"`}},
		{"redis://h?timeout=0", []string{"timeout", `"0"`}},
		{"redis://h?timeout=-1s", []string{"timeout", `"-1s"`}},
		{"redis://h?timeout=1s&timeout=2s", []string{`"timeout": given 2 times`}},
		{"redis://h?prefix=", []string{"prefix", "empty"}},
		{"redis://h/x", []string{`path "/x"`}},
		{"redis://h/1/2", []string{`path "/1/2"`}},
		{"redis://h/1?db=2", []string{`option "db"`, "database is given twice"}},
		{"redis://h?db=-1", []string{"db", `"-1"`}},
		{"redis://h?addr=nohost", []string{"addr", `"nohost"`, "host:port"}},
		{"redis://h?addr=b:99999", []string{"addr", `"b:99999"`}},
		{"redis://h?master_set=", []string{"master_set"}},
		{"redis://h?sentinel_refresh=1s", []string{`option "sentinel_refresh": needs master_set`}},
		{"redis://h?master_set=m&sentinel_refresh=-1s", []string{"sentinel_refresh", `"-1s"`}},
		{"redis://h?dial_timeout=x", []string{"dial_timeout", `"x"`}},
		{"redis://h?write_timeout=x", []string{"write_timeout", `"x"`}},
		{"redis://h?keep_alive=0", []string{"keep_alive", `"0"`}},
		{"redis://h?conn_lifetime=-1m", []string{"conn_lifetime"}},
		{"redis://h?max_flush_delay=x", []string{"max_flush_delay"}},
		{"redis://h?pipeline_multiplex=9", []string{"pipeline_multiplex", `"9"`, "0..8"}},
		{"redis://h?client_name=a%20b", []string{"client_name", `"a b"`}},
		{"redis://h?protocol=4", []string{"protocol", `"4"`, "2 or 3"}},
		{"redis://h?skip_verify=true", []string{"skip_verify", "rediss"}},
		{"rediss://h?skip_verify=maybe", []string{"skip_verify", `"maybe"`}},
		{"redis://h?client_cache=true&protocol=2", []string{"client_cache", "RESP3"}},
		{"redis://h?cache_size=1MiB", []string{"cache_size", "client_cache=true"}},
		{"redis://h?client_cache=true&cache_size=0", []string{"cache_size", `"0"`}},
		{"redis://h?client_cache=true&cache_size=lots", []string{"cache_size", `"lots"`}},
		{"redis://h?client_cache=perhaps", []string{"client_cache", `"perhaps"`}},
		{"redis://h?a=%zz", []string{"malformed query"}},
	} {
		u, err := url.Parse(tc.dsn)
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		_, _, err = parseDSN(u)
		if err == nil {
			t.Errorf("parseDSN(%s) = nil error; want one", tc.dsn)
			continue
		}
		if !strings.HasPrefix(err.Error(), "redis: ") {
			t.Errorf("parseDSN(%s) error %q lacks the redis: prefix", tc.dsn, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("parseDSN(%s) error %q does not mention %q", tc.dsn, err, w)
			}
		}
	}
}

// TestErrorsHidePasswords checks every failing parse, and a failing Open,
// for the password and the sentinel password.
func TestErrorsHidePasswords(t *testing.T) {
	const pw, spw = "Pa55wordXYZ", "SentinelPW42"
	bad := []string{
		"bogus=1", "timeout=soon", "timeout=1s&timeout=2s", "prefix=", "db=x", "addr=zz",
		"protocol=9", "skip_verify=1", "client_cache=maybe", "sentinel_refresh=1s",
		"master_set=m&sentinel_password=" + spw + "&bogus=1",
		"master_set=m&sentinel_password=" + spw + "&sentinel_password=" + spw,
		"master_set=m&sentinel_password=" + spw + "&x=%zz",
	}
	for _, q := range bad {
		for _, dsn := range []string{
			"redis://user:" + pw + "@h:1?" + q,
			"redis://:" + pw + "@h:1/x?" + q,
			"http://user:" + pw + "@h:1?" + q,
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
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), spw) {
				t.Errorf("error shows a password: %v", err)
			}
		}
	}

	// Open against a closed port: the dial error quotes the DSN.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	u, _ := url.Parse("redis://user:" + pw + "@127.0.0.1:" + strconv.Itoa(port) + "?master_set=m&sentinel_password=" + spw + "&dial_timeout=1s")
	if _, err := Open(u); err == nil {
		t.Error("Open against a closed port succeeded")
	} else if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), spw) {
		t.Errorf("Open error shows a password: %v", err)
	} else if !strings.HasPrefix(err.Error(), "redis: connect: ") || strings.Contains(err.Error(), "redis://") {
		// sessions.Open names the DSN, redacted; the driver does not repeat it.
		t.Errorf("Open error %q; want \"redis: connect: <cause>\", without the DSN", err)
	}
	u, _ = url.Parse("redis://user:" + pw + "@127.0.0.1:" + strconv.Itoa(port))
	if _, err := Open(u); err == nil {
		t.Error("Open against a closed port succeeded")
	} else if strings.Contains(err.Error(), pw) {
		t.Errorf("Open error shows a password: %v", err)
	}
}
