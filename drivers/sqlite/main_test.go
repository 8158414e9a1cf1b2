package sqlite_test

import (
	"net/url"
	"path/filepath"
	"testing"

	"github.com/ginkit/sessions/drivers/sqlite"
	"github.com/ginkit/sessions/internal/testserver"
)

// fileDSN returns a sqlite:// DSN for a fresh database file in a
// temporary folder, with the given options.
func fileDSN(t *testing.T, query string) string {
	t.Helper()
	u := url.URL{Scheme: "sqlite", Path: filepath.ToSlash(filepath.Join(t.TempDir(), "sessions.db")), RawQuery: query}
	return u.String()
}

// openDSN opens a driver from dsn with sqlite.Open and closes it when the
// test ends.
func openDSN(t *testing.T, dsn string) *sqlite.Driver {
	t.Helper()
	return testserver.OpenURL(t, sqlite.Open, dsn)
}
