package file

import (
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"time"
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
		return "", opts, fmt.Errorf("sessions: file: nil DSN")
	}
	if u.User != nil {
		return "", opts, fmt.Errorf("sessions: file: DSN %q has user information; a file DSN is file:///absolute/path", u.Redacted())
	}
	if u.Host != "" {
		return "", opts, fmt.Errorf("sessions: file: DSN %q has a host part %q: the store is a folder on this machine, named by an absolute path after three slashes (file:///path/to/folder), or file:// for the default folder", u.Redacted(), u.Host)
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
		return "", opts, fmt.Errorf("sessions: file: DSN %q has the relative path %q: the folder must be absolute (file:///path/to/folder) so that it does not depend on the working directory", u.Redacted(), dir)
	}
	if dir != "" {
		dir = filepath.Clean(dir)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", opts, fmt.Errorf("sessions: file: DSN query: %w", err)
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names) // report problems in a stable order
	for _, name := range names {
		vals := q[name]
		if len(vals) != 1 {
			return "", opts, fmt.Errorf("sessions: file: DSN option %q given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "sweep_interval":
			d, err := time.ParseDuration(v)
			if err != nil {
				return "", opts, fmt.Errorf("sessions: file: DSN option sweep_interval=%q: want a Go duration such as 1m or 30s", v)
			}
			opts.SweepInterval = d
		case "sync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", opts, fmt.Errorf("sessions: file: DSN option sync=%q: want true or false", v)
			}
			opts.Sync = b
		default:
			return "", opts, fmt.Errorf("sessions: file: unknown DSN option %q (known: sweep_interval, sync)", name)
		}
	}
	return dir, opts, nil
}
