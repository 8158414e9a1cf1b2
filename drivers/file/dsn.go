package file

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Open returns a store configured by a file:// DSN, for the sessions
// registry; the scheme itself is not checked (the registry dispatches on
// it). The DSN names a local folder by absolute path:
//
//	file:///var/lib/myapp/sessions    the folder /var/lib/myapp/sessions
//	file://                           DefaultDir(), under os.TempDir()
//
// A DSN with a host part (file://host/x, including file://var/sessions,
// where "var" is the host) is an error: the store is a local folder, and
// a path needs three slashes. A relative path (file:sessions) is an error
// too, so the folder never depends on the working directory. Query options:
//
//	sweep_interval=D   Options.SweepInterval, a Go duration ("1m"); 0
//	                   means the default (5m), negative disables the sweeper
//	sync=B             Options.Sync, a boolean (true/false/1/0); default false
//	read_cache=N       Options.ReadCache: the read cache holds at most N
//	                   records (default 10000); read_cache=0 turns it off
//	read_cache_bytes=S Options.ReadCacheBytes: the read cache's memory
//	                   bound, a positive number of bytes with an optional
//	                   unit KiB, MiB or GiB ("64MiB"); default 32MiB
//
// An unknown option, a repeated option or a malformed value is an error
// that names the option (and the value). See New for how the folder is
// created.
func Open(u *url.URL) (*Driver, error) {
	dir, opts, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	return New(dir, opts)
}

func parseDSN(u *url.URL) (string, Options, error) {
	var opts Options
	if u == nil {
		return "", opts, fmt.Errorf("file: nil DSN")
	}
	if u.User != nil {
		return "", opts, errors.New("file: user information in a file DSN; want file:///absolute/path")
	}
	if u.Host != "" {
		return "", opts, fmt.Errorf("file: host %q in a file DSN; want file:///absolute/path (three slashes)", u.Host)
	}
	dir := u.Path
	if u.Opaque != "" {
		dir = u.Opaque
	}
	if runtime.GOOS == "windows" && len(dir) >= 3 && dir[0] == '/' && dir[2] == ':' {
		dir = dir[1:] // file:///C:/x names C:/x
	}
	dir = filepath.FromSlash(dir)
	if dir != "" && !filepath.IsAbs(dir) {
		return "", opts, fmt.Errorf("file: relative path %q; the folder must be absolute (file:///path/to/folder)", dir)
	}
	if dir != "" {
		dir = filepath.Clean(dir)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", opts, fmt.Errorf("file: malformed query: %w", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // report problems in a stable order
	for _, name := range names {
		vals := q[name]
		if len(vals) != 1 {
			return "", opts, driver.OptionError("file", name, fmt.Sprintf("given %d times", len(vals)))
		}
		v := vals[0]
		switch name {
		case "sweep_interval":
			d, err := time.ParseDuration(v)
			if err != nil {
				return "", opts, driver.OptionValueError("file", name, v, "want a Go duration such as 1m or 30s")
			}
			opts.SweepInterval = d
		case "sync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", opts, driver.OptionValueError("file", name, v, "want true or false")
			}
			opts.Sync = b
		case "read_cache":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return "", opts, driver.OptionValueError("file", name, v, "want a number of records, 0 or more")
			}
			if n == 0 {
				n = -1 // Options: negative is off, zero the default
			}
			opts.ReadCache = n
		case "read_cache_bytes":
			n, ok := parseBytes(v)
			if !ok {
				return "", opts, driver.OptionValueError("file", name, v, "want a positive size such as 64MiB (KiB, MiB, GiB)")
			}
			opts.ReadCacheBytes = n
		default:
			return "", opts, driver.UnknownOptionError("file", name, []string{"read_cache", "read_cache_bytes", "sweep_interval", "sync"})
		}
	}
	return dir, opts, nil
}

// parseBytes parses a positive byte count with an optional binary unit
// (KiB, MiB, GiB; case-sensitive, no space): "4096", "512KiB", "64MiB".
func parseBytes(s string) (int64, bool) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	// Digits only: no sign, no spaces, no base prefix.
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}
