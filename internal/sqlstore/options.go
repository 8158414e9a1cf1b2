package sqlstore

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ginkit/sessions/driver"
)

// MaxTableLen is the longest table name accepted: with the longest name
// derived from it (Table + "_users_expires_idx") it stays within
// PostgreSQL's 63-byte identifiers (MySQL allows 64).
const MaxTableLen = 45

// ValidTable checks a table name: 1 to 45 ASCII letters, digits and
// underscores, not starting with a digit, and not ending in "_users" or
// "_idx" (in any case), which are the suffixes of the names derived from
// it. The suffix rule keeps two applications with two tables from ever
// colliding: no table name equals another table's user index or index
// names.
func ValidTable(name string) error {
	if name == "" || len(name) > MaxTableLen {
		return fmt.Errorf("%q: want 1 to %d letters, digits or underscores", name, MaxTableLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && !('0' <= c && c <= '9' && i > 0) {
			return fmt.Errorf("%q: want letters, digits or underscores, not starting with a digit", name)
		}
	}
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, UsersSuffix) || strings.HasSuffix(lower, "_idx") {
		return fmt.Errorf("%q: must not end in %q or \"_idx\", the suffixes of the names derived from it", name, UsersSuffix)
	}
	return nil
}

// Options are the DSN options every SQL driver shares, with defaults
// applied.
type Options struct {
	Table         string        // table, default DefaultTable
	CreateTable   bool          // create_table, default true
	SweepInterval time.Duration // sweep_interval resolved: default 5m; 0 = off
	Timeout       time.Duration // timeout, default 5s
	MaxConns      int           // max_conns, default as given to ParseQuery
}

// Config returns the Store configuration these options describe.
func (o Options) Config() Config {
	return Config{Table: o.Table, CreateTable: o.CreateTable, SweepInterval: o.SweepInterval, Timeout: o.Timeout}
}

// SharedOptions are the names of the options ParseQuery reads, for a
// driver's list of the options it knows (driver.UnknownOptionError).
var SharedOptions = []string{"create_table", "max_conns", "sweep_interval", "table", "timeout"}

// ParseQuery reads the shared options (table, create_table,
// sweep_interval, timeout, max_conns) from a DSN's query and returns them
// with the other options, which the driver handles. Every option, shared
// or not, must be given at most once. Errors name the option and quote
// its value in the wording of driver.OptionError, with name (the
// driver's: "postgres") in front.
func ParseQuery(name, rawQuery string, maxConns int) (Options, url.Values, error) {
	o := Options{
		Table:         DefaultTable,
		CreateTable:   true,
		SweepInterval: DefaultSweepInterval,
		Timeout:       DefaultTimeout,
		MaxConns:      maxConns,
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return o, nil, errors.New(name + ": malformed query")
	}
	names := make([]string, 0, len(q))
	for opt := range q {
		names = append(names, opt)
	}
	slices.Sort(names) // report problems in a stable order
	rest := url.Values{}
	for _, opt := range names {
		vals := q[opt]
		if len(vals) != 1 {
			return o, nil, driver.OptionError(name, opt, fmt.Sprintf("given %d times", len(vals)))
		}
		v := vals[0]
		var bad string
		switch opt {
		case "table":
			if err := ValidTable(v); err != nil {
				return o, nil, driver.OptionError(name, opt, err.Error())
			}
			o.Table = v
		case "create_table":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad = "want true or false"
			}
			o.CreateTable = b
		case "sweep_interval":
			// As in every driver's Options and in the memory and file
			// DSNs: 0 is the default, a negative duration no sweep.
			d, err := time.ParseDuration(v)
			if err != nil {
				bad = "want a duration such as 5m (0: the default, negative: no sweep)"
			}
			o.SweepInterval = Resolve("", false, d, 0).SweepInterval
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				bad = "want a positive duration such as 500ms or 5s"
			}
			o.Timeout = d
		case "max_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 10000 {
				bad = "want a number of connections from 1 to 10000"
			}
			o.MaxConns = n
		default:
			rest[opt] = vals
		}
		if bad != "" {
			return o, nil, driver.OptionValueError(name, opt, v, bad)
		}
	}
	return o, rest, nil
}

// Resolve turns the fields of a driver's public Options into a Config:
// an empty table means DefaultTable; a zero sweep interval the default
// and a negative one no sweep; a zero timeout the default and a negative
// one none.
func Resolve(table string, noCreate bool, sweep, timeout time.Duration) Config {
	if table == "" {
		table = DefaultTable
	}
	switch {
	case sweep == 0:
		sweep = DefaultSweepInterval
	case sweep < 0:
		sweep = 0
	}
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		timeout = 0
	}
	return Config{Table: table, CreateTable: !noCreate, SweepInterval: sweep, Timeout: timeout}
}
