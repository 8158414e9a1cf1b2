package memcached

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

	"github.com/ginkit/sessions/driver"
)

// Defaults of the DSN options.
const (
	// DefaultPort is the port used for a server given without one.
	DefaultPort = "11211"

	// DefaultTimeout is the socket read/write timeout of a Driver from
	// Open when the DSN has no timeout option; it equals gomemcache's
	// default.
	DefaultTimeout = 500 * time.Millisecond

	// DefaultMaxIdle is the number of idle connections a Driver from Open
	// keeps per server when the DSN has no max_idle option. gomemcache's
	// own default of 2 makes a busy server open a new TCP connection
	// every few requests.
	DefaultMaxIdle = 64

	// DefaultPrefix is prepended to every key when no prefix is set.
	DefaultPrefix = "sess:"
)

// maxPrefix is the longest accepted key prefix, in bytes.
const maxPrefix = 100

// config is what a DSN describes.
type config struct {
	servers []string // host:port, in DSN order
	timeout time.Duration
	maxIdle int
	prefix  string
}

// parseDSN reads a memcached://host[:port][,host[:port]...][?options] URL.
// Its errors start "memcached: " and name the part at fault (the caller,
// sessions.Open, names the DSN, redacted) and never wrap url errors that might repeat it
// unredacted.
func parseDSN(u *url.URL) (config, error) {
	c := config{timeout: DefaultTimeout, maxIdle: DefaultMaxIdle, prefix: DefaultPrefix}
	if u == nil {
		return c, errors.New("memcached: nil DSN")
	}
	if u.Scheme != "memcached" {
		return c, fmt.Errorf("memcached: scheme %q: want memcached", u.Scheme)
	}
	if u.Opaque != "" {
		return c, errors.New("memcached: want memcached://host:port")
	}
	if u.User != nil {
		return c, errors.New("memcached: user information: memcached has no authentication; remove it")
	}
	if u.Path != "" && u.Path != "/" {
		return c, fmt.Errorf("memcached: path %q: want none", u.Path)
	}
	if u.Fragment != "" {
		return c, errors.New("memcached: a fragment (#…): remove it")
	}
	servers, err := parseServers(u.Host)
	if err != nil {
		return c, fmt.Errorf("memcached: %v", err)
	}
	c.servers = servers
	if err := parseOptions(&c, u.RawQuery); err != nil {
		return c, err
	}
	return c, nil
}

// parseServers splits the host part of a DSN into host:port addresses,
// adding DefaultPort where a server has none.
func parseServers(hosts string) ([]string, error) {
	if hosts == "" {
		return nil, fmt.Errorf("no server: want memcached://host:port[,host:port...]")
	}
	var out []string
	for _, h := range strings.Split(hosts, ",") {
		addr, err := parseServer(h)
		if err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	return out, nil
}

// parseServer normalises one server: host, host:port, [ipv6] or
// [ipv6]:port.
func parseServer(h string) (string, error) {
	if h == "" {
		return "", fmt.Errorf("empty server in the host list")
	}
	host, port := h, DefaultPort
	switch {
	case strings.HasPrefix(h, "["):
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("server %q: missing ] after IPv6 address", h)
		}
		host = h[1:end]
		if rest := h[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", fmt.Errorf("server %q: unexpected %q after IPv6 address", h, rest)
			}
			port = rest[1:]
		}
	case strings.Count(h, ":") > 1:
		return "", fmt.Errorf("server %q: write an IPv6 address in brackets, as [::1]:11211", h)
	case strings.Contains(h, ":"):
		host, port, _ = strings.Cut(h, ":")
	}
	if host == "" {
		return "", fmt.Errorf("server %q: empty host", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
		return "", fmt.Errorf("server %q: bad port %q", h, port)
	}
	return net.JoinHostPort(host, port), nil
}

// parseOptions applies the query options to c.
func parseOptions(c *config, rawQuery string) error {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fmt.Errorf("memcached: malformed query: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		values := q[name]
		if len(values) != 1 {
			return driver.OptionError("memcached", name, fmt.Sprintf("given %d times", len(values)))
		}
		v := values[0]
		switch name {
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return driver.OptionValueError("memcached", name, v, "want a positive duration such as 500ms")
			}
			c.timeout = d
		case "max_idle":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return driver.OptionValueError("memcached", name, v, "want a whole number of at least 1")
			}
			c.maxIdle = n
		case "prefix":
			if err := checkPrefix(v); err != nil {
				return driver.OptionValueError("memcached", name, v, err.Error())
			}
			c.prefix = v
		default:
			return driver.UnknownOptionError("memcached", name, []string{"max_idle", "prefix", "timeout"})
		}
	}
	return nil
}

// checkPrefix reports whether p can start memcached keys: not empty, at
// most maxPrefix bytes, no whitespace or control characters.
func checkPrefix(p string) error {
	if p == "" {
		return fmt.Errorf("empty key prefix")
	}
	if len(p) > maxPrefix {
		return fmt.Errorf("key prefix of %d bytes is longer than %d", len(p), maxPrefix)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			return fmt.Errorf("key prefix contains a space or control character at byte %d; memcached keys cannot", i)
		}
	}
	return nil
}
