package main

import (
	"io"
	"os"
	"strings"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/driver"
)

// secretsOf returns what output must never show: the secrets of the
// DSNs among args (a flag's value too: --from=redis://…) and in SESSION_DSN
// and SESSION_DSN_PREVIOUS, and the keys of SESSION_ENCRYPTION_KEYS.
func secretsOf(args []string) []string {
	var out []string
	for _, a := range append([]string{os.Getenv(sessions.EnvDSN), os.Getenv(sessions.EnvPreviousDSN)}, args...) {
		if i := strings.Index(a, "="); i >= 0 && strings.HasPrefix(a, "-") {
			a = a[i+1:]
		}
		out = append(out, driver.DSNSecrets(a)...)
	}
	for _, k := range strings.Split(os.Getenv(sessions.EnvEncryptionKeys), ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// scrubber masks secrets in everything written through it: the last line
// of defence behind sessions.RedactDSN, for errors from libraries that
// might quote a secret of a DSN some other way. Each Write is scrubbed on its own; the tool writes whole
// lines at a time.
type scrubber struct {
	w       io.Writer
	secrets []string
}

func (s *scrubber) Write(p []byte) (int, error) {
	text := string(p)
	changed := false
	for _, sec := range s.secrets {
		if strings.Contains(text, sec) {
			text = strings.ReplaceAll(text, sec, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		return 0, err
	}
	return len(p), nil
}
