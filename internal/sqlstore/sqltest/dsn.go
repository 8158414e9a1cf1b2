package sqltest

import (
	"net/url"
	"strings"
	"testing"
)

// DSNErrors checks that parse refuses every DSN of cases (a DSN, and the
// words its error must contain) with an error that starts with prefix
// ("postgres: "), stays within 200 bytes, contains each of the
// words and never shows the password "s3cr3t".
func DSNErrors(t *testing.T, prefix string, parse func(*url.URL) error, cases map[string][]string) {
	t.Helper()
	for dsn, want := range cases {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		err = parse(u)
		if err == nil {
			t.Errorf("parse(%s) = nil error; want one", dsn)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, prefix) {
			t.Errorf("parse(%s) error %q lacks the %q prefix", dsn, msg, prefix)
		}
		if len(msg) > 200 {
			t.Errorf("parse(%s) error is %d bytes long: %s", dsn, len(msg), msg)
		}
		if strings.Contains(msg, "s3cr3t") {
			t.Errorf("parse(%s) error shows the password: %s", dsn, msg)
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("parse(%s) error %q does not mention %q", dsn, msg, w)
			}
		}
	}
}
