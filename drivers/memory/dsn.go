package memory

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"
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
		return opts, fmt.Errorf("memory: DSN query: %w", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // report problems in a stable order
	for _, name := range names {
		vals := q[name]
		if len(vals) != 1 {
			return opts, fmt.Errorf("memory: DSN option %q given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "max_entries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return opts, fmt.Errorf("memory: DSN option max_entries=%q: want an integer ≥ 1", v)
			}
			opts.MaxEntries = n
		case "shards":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxShards {
				return opts, fmt.Errorf("memory: DSN option shards=%q: want an integer from 1 to %d", v, maxShards)
			}
			opts.Shards = n
		case "sweep_interval":
			dur, err := time.ParseDuration(v)
			if err != nil {
				return opts, fmt.Errorf("memory: DSN option sweep_interval=%q: want a Go duration such as 30s or 5m", v)
			}
			opts.SweepInterval = dur
		default:
			return opts, fmt.Errorf("memory: unknown DSN option %q (known: max_entries, shards, sweep_interval)", name)
		}
	}
	return opts, nil
}
