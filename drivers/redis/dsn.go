package redis

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginkit/sessions/driver"
)

// Open connects to Redis as described by a DSN and returns a Driver that
// owns the connection: its Close closes the client.
//
//	redis://[[user]:password@]host[:port][/db][?option=value&...]
//	rediss://...   (TLS, at least TLS 1.2)
//
// The host defaults to localhost and the port to 6379. One address means a
// standalone server (or a cluster node, detected automatically); more
// addresses (addr=) are seeds of a Redis Cluster; with master_set the
// addresses are Sentinels. Options, all optional:
//
//	prefix=sess:          key prefix (not empty); see Options.Prefix
//	timeout=5s            deadline of each Load/Save/Delete/Touch (> 0)
//	db=0                  database number, like the /db path (not on Cluster)
//	addr=host:port        another seed node or sentinel; repeatable
//	master_set=NAME       Sentinel master name; the addresses are sentinels
//	sentinel_username=    ACL user for the sentinels (default none)
//	sentinel_password=    password for the sentinels (default none)
//	sentinel_refresh=5s   how often to re-ask the sentinels for the master,
//	                      besides following their failover events; 0 = never
//	dial_timeout=5s       TCP (and TLS) connect timeout (> 0)
//	write_timeout=10s     rueidis' connection read/write deadline: a server
//	                      silent this long is considered dead (> 0)
//	keep_alive=1s         TCP keep-alive interval (> 0)
//	conn_lifetime=0       reconnect each connection after this long; 0 = never
//	max_flush_delay=0     rueidis may wait up to this long to batch writes
//	                      (trades latency for CPU; 20us is a typical value)
//	pipeline_multiplex=N  2^N pipelined connections per server, N in 0..8
//	                      (default: rueidis', 4 standalone/sentinel, 1 cluster)
//	client_name=NAME      CLIENT SETNAME for each connection (no spaces)
//	protocol=3            2 forces RESP2; 3 uses RESP3 when the server has it
//	skip_verify=false     rediss only: do not verify the server certificate
//	client_cache=false    true reads sessions through rueidis' server-assisted
//	                      client-side cache: a session that is only read costs
//	                      no round trip (see Options.ClientCache; RESP3 only)
//	cache_size=128MiB     with client_cache: the cache's size per connection,
//	                      in bytes or with a KiB, MiB or GiB suffix
//
// The user and password of the DSN authenticate to the Redis servers (with
// Sentinel: to the master). With rediss and master_set the sentinels are
// reached over TLS too. Auto-pipelining stays on. Open connects before it
// returns, so an unreachable server is an error here.
//
// Unknown options, repeated options (other than addr) and malformed values
// are errors that name the option. No error shows the DSN's password or
// sentinel_password.
func Open(u *url.URL) (*Driver, error) {
	opt, o, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(opt)
	if err != nil {
		// The caller (sessions.Open) names the DSN, redacted; rueidis'
		// error names the address it could not reach.
		err = fmt.Errorf("redis: connect: %w", err)
		return nil, driver.ScrubError(err, driver.DSNSecrets(u.String())...)
	}
	d := New(client, o)
	d.owned = true
	return d, nil
}

// Default values of DSN options that differ from rueidis' defaults or are
// the driver's own.
const (
	defaultSentinelRefresh = 5 * time.Second
)

// dsnOption parses one query option into the client and driver options.
type dsnOption struct {
	multi bool // may be given more than once
	apply func(c *rueidis.ClientOption, o *Options, v string) error
}

// dsnOptions lists every query option the driver accepts. addr is handled
// by rueidis.ParseURL after validation here.
var dsnOptions = map[string]dsnOption{
	"prefix": {apply: func(_ *rueidis.ClientOption, o *Options, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		o.Prefix = v
		return nil
	}},
	"timeout": {apply: func(_ *rueidis.ClientOption, o *Options, v string) error {
		return positiveDuration(v, &o.Timeout)
	}},
	"db": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return databaseNumber(v, &c.SelectDB)
	}},
	"addr": {multi: true, apply: func(_ *rueidis.ClientOption, _ *Options, v string) error {
		_, port, err := net.SplitHostPort(v)
		if err != nil {
			return errors.New("want host:port")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("want host:port with a port in 1..65535")
		}
		return nil
	}},
	"master_set": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		c.Sentinel.MasterSet = v
		return nil
	}},
	"sentinel_username": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		c.Sentinel.Username = v
		return nil
	}},
	"sentinel_password": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		c.Sentinel.Password = v
		return nil
	}},
	"sentinel_refresh": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return nonNegativeDuration(v, &c.Sentinel.TopologyRefreshInterval)
	}},
	"dial_timeout": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return positiveDuration(v, &c.Dialer.Timeout)
	}},
	"write_timeout": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return positiveDuration(v, &c.ConnWriteTimeout)
	}},
	"keep_alive": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return positiveDuration(v, &c.Dialer.KeepAlive)
	}},
	"conn_lifetime": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return nonNegativeDuration(v, &c.ConnLifetime)
	}},
	"max_flush_delay": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		return nonNegativeDuration(v, &c.MaxFlushDelay)
	}},
	"pipeline_multiplex": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > rueidis.MaxPipelineMultiplex {
			return fmt.Errorf("want an integer in 0..%d", rueidis.MaxPipelineMultiplex)
		}
		// rueidis reads 0 as "its default" for standalone and sentinel
		// clients and -1 as one connection.
		if n == 0 {
			n = -1
		}
		c.PipelineMultiplex = n
		return nil
	}},
	"client_name": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		if strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return errors.New("want printable ASCII without spaces")
		}
		c.ClientName = v
		return nil
	}},
	"protocol": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		switch v {
		case "2":
			c.AlwaysRESP2 = true
		case "3":
			c.AlwaysRESP2 = false
		default:
			return errors.New("want 2 or 3")
		}
		return nil
	}},
	"skip_verify": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		if c.TLSConfig == nil {
			return errors.New("only with rediss://")
		}
		skip := true // a bare skip_verify means true, as in rueidis
		if v != "" {
			var err error
			if skip, err = strconv.ParseBool(v); err != nil {
				return errors.New("want true or false")
			}
		}
		c.TLSConfig.InsecureSkipVerify = skip
		return nil
	}},
	"client_cache": {apply: func(c *rueidis.ClientOption, o *Options, v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.DisableCache = !on
		o.ClientCache = on
		return nil
	}},
	"cache_size": {apply: func(c *rueidis.ClientOption, _ *Options, v string) error {
		n, err := parseBytes(v)
		if err != nil {
			return err
		}
		c.CacheSizeEachConn = n
		return nil
	}},
}

// parseDSN turns a DSN into rueidis client options and driver options,
// validating every part. Its errors name the part at fault, never a
// password; the caller (sessions.Open) names the DSN, redacted.
func parseDSN(u *url.URL) (rueidis.ClientOption, Options, error) {
	var opt rueidis.ClientOption
	o := Options{Prefix: DefaultPrefix, Timeout: DefaultTimeout}
	if u == nil {
		return opt, o, errors.New("redis: nil DSN")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("redis: %s", fmt.Sprintf(format, args...))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return opt, o, fail("scheme %q: want redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return opt, o, fail("want %s://host:port", u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return opt, o, fail("malformed query: %v", err)
	}
	// rueidis reads a bare "/" as an empty database number; accept it as
	// "no database given".
	path := strings.TrimSuffix(u.Path, "/")
	pathDB := path != ""
	if pathDB {
		var db int
		if err := databaseNumber(strings.TrimPrefix(path, "/"), &db); err != nil {
			return opt, o, fail("path %q: want /<database number>", u.Path)
		}
	}
	if pathDB && q.Has("db") {
		return opt, o, driver.OptionError("redis", "db", "the database is given twice, in the path and as db")
	}

	// rueidis parses scheme, host, user, password, database path and the
	// extra addresses; every other option is handled below, so that bad
	// values are errors instead of being ignored.
	base := *u
	base.Path = path
	base.RawPath = ""
	base.RawQuery = url.Values{"addr": q["addr"]}.Encode()
	base.Fragment, base.RawFragment = "", ""
	opt, err = rueidis.ParseURL(base.String())
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return opt, o, fail("malformed URL")
		}
		return opt, o, fail("%v", err)
	}
	opt.DisableCache = true // see client_cache

	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		def, ok := dsnOptions[name]
		if !ok {
			return opt, o, driver.UnknownOptionError("redis", name, slices.Collect(maps.Keys(dsnOptions)))
		}
		vals := q[name]
		if !def.multi && len(vals) > 1 {
			return opt, o, driver.OptionError("redis", name, fmt.Sprintf("given %d times", len(vals)))
		}
		for _, v := range vals {
			if err := def.apply(&opt, &o, v); err != nil {
				return opt, o, driver.OptionValueError("redis", name, v, err.Error())
			}
		}
	}

	if q.Has("cache_size") && !o.ClientCache {
		return opt, o, driver.OptionError("redis", "cache_size", "needs client_cache=true")
	}
	if o.ClientCache && opt.AlwaysRESP2 {
		return opt, o, driver.OptionError("redis", "client_cache", "true needs RESP3: drop protocol=2")
	}

	if opt.Sentinel.MasterSet == "" {
		for _, name := range []string{"sentinel_username", "sentinel_password", "sentinel_refresh"} {
			if q.Has(name) {
				return opt, o, driver.OptionError("redis", name, "needs master_set")
			}
		}
	} else {
		if !q.Has("sentinel_refresh") {
			opt.Sentinel.TopologyRefreshInterval = defaultSentinelRefresh
		}
		// rueidis connects to sentinels with these, not the master's.
		opt.Sentinel.Dialer = opt.Dialer
		opt.Sentinel.ClientName = opt.ClientName
		if opt.TLSConfig != nil {
			opt.Sentinel.TLSConfig = opt.TLSConfig.Clone()
		}
	}
	return opt, o, nil
}

// parseBytes parses a positive size in bytes, optionally with a KiB, MiB
// or GiB suffix (KB, MB, GB are read as the same binary units).
func parseBytes(v string) (int, error) {
	bad := errors.New("want a positive size such as 67108864, 64MiB or 1GiB")
	num, mult := v, 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}} {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = s, u.mult
			break
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, bad
	}
	return n * mult, nil
}

// positiveDuration parses v as a time.Duration greater than zero.
func positiveDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New("want a positive duration such as 500ms or 5s")
	}
	*dst = d
	return nil
}

// nonNegativeDuration parses v as a time.Duration of zero or more.
func nonNegativeDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want a duration such as 0, 500ms or 5s")
	}
	*dst = d
	return nil
}

// databaseNumber parses v as a Redis database number.
func databaseNumber(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return errors.New("want a database number 0 or more")
	}
	*dst = n
	return nil
}
