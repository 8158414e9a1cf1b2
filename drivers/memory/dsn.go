package memory

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/ginkit/sessions/driver"
)

// Open returns a running store configured by a memory:// DSN, for the
// sessions registry. The scheme itself is not checked (the registry
// dispatches on it). The DSN takes no host, path or user: "memory://" alone
// gives the defaults, and these query options override them:
//
//	max_entries=N       Options.MaxEntries, an integer ≥ 1
//	shards=N            Options.Shards, an integer from 1 to 65536
//	sweep_interval=D    Options.SweepInterval, a Go duration ("30s");
//	                    0 means the default, a negative value disables
//	                    the janitor
//
// For example memory://?max_entries=50000&sweep_interval=30s. An unknown
// option, a repeated option or a malformed value is an error that names
// the option (and the value).
func Open(u *url.URL) (*Driver, error) {
	opts, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	return New(opts), nil
}

func parseDSN(u *url.URL) (Options, error) {
	var opts Options
	if u == nil {
		return opts, fmt.Errorf("memory: nil DSN")
	}
	if u.Opaque != "" || u.Host != "" || u.Path != "" || u.User != nil {
		return opts, errors.New("memory: a host or path in the DSN; want memory:// with options only")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return opts, fmt.Errorf("memory: malformed query: %w", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // report problems in a stable order
	for _, name := range names {
		vals := q[name]
		if len(vals) != 1 {
			return opts, driver.OptionError("memory", name, fmt.Sprintf("given %d times", len(vals)))
		}
		v := vals[0]
		switch name {
		case "max_entries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return opts, driver.OptionValueError("memory", name, v, "want an integer ≥ 1")
			}
			opts.MaxEntries = n
		case "shards":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxShards {
				return opts, driver.OptionValueError("memory", name, v, fmt.Sprintf("want an integer from 1 to %d", maxShards))
			}
			opts.Shards = n
		case "sweep_interval":
			dur, err := time.ParseDuration(v)
			if err != nil {
				return opts, driver.OptionValueError("memory", name, v, "want a Go duration such as 30s or 5m")
			}
			opts.SweepInterval = dur
		default:
			return opts, driver.UnknownOptionError("memory", name, []string{"max_entries", "shards", "sweep_interval"})
		}
	}
	return opts, nil
}
