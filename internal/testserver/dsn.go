package testserver

import (
	"context"
	"errors"
	"net/url"
	"testing"
)

// Closer is what OpenDSN closes when the test ends: any driver.
type Closer interface {
	Close(ctx context.Context) error
}

// OpenDSN opens a driver from dsn with open (sessions.Open, or a driver
// package's Open through OpenURL), fails tb if it cannot, and closes the
// driver when the test ends. Its failure message names the DSN with the
// password redacted.
func OpenDSN[D Closer](tb testing.TB, open func(dsn string) (D, error), dsn string) D {
	tb.Helper()
	d, err := open(dsn)
	if err != nil {
		tb.Fatalf("open %s: %v", redacted(dsn), err)
	}
	tb.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// OpenURL is OpenDSN for a driver package's Open, which takes the parsed
// URL.
func OpenURL[D Closer](tb testing.TB, open func(*url.URL) (D, error), dsn string) D {
	tb.Helper()
	return OpenDSN(tb, func(dsn string) (D, error) {
		u, err := url.Parse(dsn)
		if err != nil {
			var zero D
			return zero, errors.New("not a URL") // url's error quotes the password
		}
		return open(u)
	}, dsn)
}

// MustParse parses dsn with a driver's two-result DSN parser, failing tb
// if dsn is not a URL or parse refuses it.
func MustParse[A, B any](tb testing.TB, parse func(*url.URL) (A, B, error), dsn string) (A, B) {
	tb.Helper()
	a, b, err := parse(MustURL(tb, dsn))
	if err != nil {
		tb.Fatalf("parseDSN(%s): %v", redacted(dsn), err)
	}
	return a, b
}

// MustURL parses dsn as a URL, failing tb if it is not one.
func MustURL(tb testing.TB, dsn string) *url.URL {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse DSN: %v", err)
	}
	return u
}

// redacted is dsn with its password replaced, or a placeholder if dsn is
// not a URL (whose parse error could quote the password).
func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(a DSN that is not a URL)"
	}
	return u.Redacted()
}
