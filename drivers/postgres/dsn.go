package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/sqlstore"
)

// Open connects to PostgreSQL as described by a DSN and returns a Driver
// that owns its pool: its Close closes the pool.
//
//	postgres://[user[:password]@]host[:port][/database][?option=value&...]
//	postgresql://...
//
// The port defaults to 5432. Options of the driver, all optional:
//
//	table=ginkit_sessions  the sessions table; the user index is the same
//	                       name with "_users" appended (letters, digits and
//	                       underscores, at most 45, not ending in _users or _idx)
//	create_table=true      create the tables on first use; false only checks
//	                       that they exist (for a user without DDL rights)
//	sweep_interval=5m      how often expired rows are deleted; 0 = the
//	                       default, negative (-1s) = never
//	timeout=5s             deadline of each operation (> 0)
//	max_conns=10           size of the pool (pgxpool's pool_max_conns is
//	                       accepted instead, not both)
//	pipelines=2            connections that carry the row statements of
//	                       concurrent requests in batches, one round trip
//	                       and one transaction each, for reads and again
//	                       for writes (see Options.Pipelines); 0 sends
//	                       each statement on its own (PgBouncer in
//	                       statement mode)
//
// Every other option goes to pgxpool.ParseConfig unchanged, among them
// sslmode, sslrootcert, connect_timeout, application_name, pool_max_conns,
// pool_max_conn_lifetime and default_query_exec_mode (simple_protocol or
// exec behind PgBouncer in transaction mode); pgx sends options it does
// not know to the server as run-time parameters (search_path=…), which
// the server rejects at connect time if they are not parameters either.
//
// Open does not connect: the first operation does, and creates the
// tables. An unknown driver option is impossible to tell from a run-time
// parameter, but a repeated option or a malformed value of a driver
// option is an error that names it. No error shows the password.
func Open(u *url.URL) (*Driver, error) {
	cfg, opts, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, driver.ScrubError(fmt.Errorf("postgres: pool: %w", err), driver.DSNSecrets(u.String())...)
	}
	return newDriver(newPgxDB(pool, true, opts.Pipelines), opts.Config())
}

// dsnOptions are the driver's options of a DSN.
type dsnOptions struct {
	sqlstore.Options
	Pipelines int // pipelines, default DefaultPipelines; 0 = off
}

// parseDSN splits a DSN into the pool configuration and the driver's
// options.
func parseDSN(u *url.URL) (*pgxpool.Config, dsnOptions, error) {
	var o dsnOptions
	if u == nil {
		return nil, o, errors.New("postgres: nil DSN")
	}
	secrets := driver.DSNSecrets(u.String())
	fail := func(format string, args ...any) error {
		return driver.ScrubError(fmt.Errorf("postgres: "+format, args...), secrets...)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, o, fail("scheme %q: want postgres or postgresql", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, o, fail("want %s://host:port/database", u.Scheme)
	}
	shared, rest, err := sqlstore.ParseQuery("postgres", u.RawQuery, sqlstore.DefaultMaxConns)
	o.Options = shared
	if err != nil {
		return nil, o, driver.ScrubError(err, secrets...)
	}
	o.Pipelines = DefaultPipelines
	if rest.Has("pipelines") {
		v := rest.Get("pipelines")
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 64 {
			return nil, o, driver.OptionValueError("postgres", "pipelines", v, "want a number from 0 to 64")
		}
		o.Pipelines = n
		rest.Del("pipelines")
	}
	if rest.Has("pool_max_conns") && hasOption(u, "max_conns") {
		return nil, o, driver.OptionError("postgres", "max_conns", `given with "pool_max_conns"; give one`)
	}
	base := *u
	base.RawQuery = rest.Encode()
	base.Fragment, base.RawFragment = "", ""
	cfg, err := pgxpool.ParseConfig(base.String())
	if err != nil {
		// pgx quotes the connection string, with the password redacted
		// as best it can; keep only the reason.
		msg := err.Error()
		if i := strings.LastIndex(msg, "`: "); strings.HasPrefix(msg, "cannot parse `") && i > 0 {
			msg = msg[i+3:]
		}
		return nil, o, fail("%s", msg)
	}
	if !rest.Has("pool_max_conns") {
		cfg.MaxConns = int32(o.MaxConns)
	}
	return cfg, o, nil
}

// hasOption reports whether the DSN's query names option.
func hasOption(u *url.URL, option string) bool {
	q, err := url.ParseQuery(u.RawQuery)
	return err == nil && q.Has(option)
}
