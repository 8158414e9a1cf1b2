// Package errvoice checks that an error text speaks in the module's one
// error voice, for the tests that pin error texts (the root's, the SQL
// drivers' and sessionctl's).
package errvoice

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ginkit/sessions/driver"
)

// MaxPrefix is the longest text allowed before the cause: the program or
// "sessions:" prefix, the operation and the redacted DSN.
const MaxPrefix = 120

var openWord = regexp.MustCompile(`\bopen\b`)

// Check fails tb unless msg, an error about the store named by dsn, names
// each thing once: exactly one "sessions:" prefix, the redacted DSN at
// most once and never a secret of it, the word "open" at most once, and
// the driver's cause (starting "<driverName>: ", if driverName is not
// empty) after at most MaxPrefix bytes; when the DSN is quoted, the cause
// follows it.
func Check(tb testing.TB, msg, dsn, driverName string) {
	tb.Helper()
	if n := strings.Count(msg, "sessions:"); n != 1 {
		tb.Errorf("%q says \"sessions:\" %d times; want once", msg, n)
	}
	red := driver.RedactDSN(dsn)
	if n := strings.Count(msg, red); n > 1 {
		tb.Errorf("%q names the DSN %d times; want at most once", msg, n)
	}
	for _, s := range driver.DSNSecrets(dsn) {
		if strings.Contains(msg, s) {
			tb.Errorf("%q shows a secret of the DSN", msg)
		}
	}
	if n := len(openWord.FindAllStringIndex(msg, -1)); n > 1 {
		tb.Errorf("%q says \"open\" %d times; want at most once", msg, n)
	}
	start := strings.Index(msg, "sessions:")
	if i := strings.Index(msg, red); i >= 0 && red != "" {
		start = i + len(red)
	}
	if driverName != "" {
		i := strings.Index(msg[max(start, 0):], driverName+": ")
		if i < 0 {
			tb.Errorf("%q: no cause %q after the DSN", msg, driverName+": ")
			return
		}
		start += i
	}
	if start > MaxPrefix {
		tb.Errorf("%q: %d bytes before the cause; want at most %d", msg, start, MaxPrefix)
	}
}
