package mysql

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/internal/sqlstore"
)

// DefaultConnectTimeout bounds dialing a server (DSN connect_timeout).
const DefaultConnectTimeout = 5 * time.Second

// Open connects to MySQL or MariaDB as described by a DSN and returns a
// Driver that owns its pool: its Close closes the pool.
//
//	mysql://[user[:password]@]host[:port]/database[?option=value&...]
//	mariadb://...
//
// The port defaults to 3306 and the host to localhost; the database is
// required. Options, all optional:
//
//	table=ginkit_sessions  the sessions table; the user index is the same
//	                       name with "_users" appended (letters, digits and
//	                       underscores, at most 45, not ending in _users or _idx)
//	create_table=true      create the tables on first use; false only checks
//	                       that they exist (for a user without DDL rights)
//	sweep_interval=5m      how often expired rows are deleted; 0 = the
//	                       default, negative (-1s) = never
//	timeout=5s             deadline of each operation (> 0)
//	max_conns=10           size of the pool (open and idle connections)
//	connect_timeout=5s     deadline of dialing the server (> 0)
//	tls=false              true (verify the server), skip-verify, preferred
//	                       (TLS if the server offers it) or false
//
// The DSN is not go-sql-driver/mysql's own format: Open builds its
// mysql.Config field by field (no DSN string is spliced together), with
// the default clientFoundRows=false that Save relies on. Unknown or
// repeated options and malformed values are errors that name the option;
// no error shows the password. Open does not connect: the first
// operation does, and creates the tables.
func Open(u *url.URL) (*Driver, error) {
	cfg, o, err := parseDSN(u)
	if err != nil {
		return nil, err
	}
	return openConfig(cfg, o)
}

// parseDSN turns a DSN into the library's configuration and the driver's
// options.
func parseDSN(u *url.URL) (*mysql.Config, sqlstore.Options, error) {
	var o sqlstore.Options
	if u == nil {
		return nil, o, errors.New("mysql: nil DSN")
	}
	password, _ := u.User.Password()
	secrets := driver.DSNSecrets(u.String())
	fail := func(format string, args ...any) error {
		return driver.ScrubError(fmt.Errorf("mysql: "+format, args...), secrets...)
	}
	if u.Scheme != "mysql" && u.Scheme != "mariadb" {
		return nil, o, fail("scheme %q: want mysql or mariadb", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, o, fail("want %s://host:port/database", u.Scheme)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, o, fail("path %q: want /database", u.Path)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "3306"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, o, fail("port %q: want 1 to 65535", port)
	}
	o, rest, err := sqlstore.ParseQuery("mysql", u.RawQuery, sqlstore.DefaultMaxConns)
	if err != nil {
		return nil, o, driver.ScrubError(err, secrets...)
	}

	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd = password
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = db
	cfg.Timeout = DefaultConnectTimeout
	cfg.ClientFoundRows = false     // Save counts changed rows
	cfg.Logger = &mysql.NopLogger{} // errors reach the caller; no stray log lines
	for name, vals := range rest {
		v := vals[0]
		switch name {
		case "connect_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, o, driver.OptionValueError("mysql", name, v, "want a positive duration such as 5s")
			}
			cfg.Timeout = d
		case "tls":
			switch v {
			case "true", "false", "skip-verify", "preferred":
				cfg.TLSConfig = v
			default:
				return nil, o, driver.OptionValueError("mysql", name, v, "want true, false, skip-verify or preferred")
			}
		default:
			return nil, o, driver.UnknownOptionError("mysql", name, append(slices.Clone(sqlstore.SharedOptions), "connect_timeout", "tls"))
		}
	}
	return cfg, o, nil
}
