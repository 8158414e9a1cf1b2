package main

import (
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/ginkit/sessions"
)

// redact returns dsn fit for output: the password masked as by
// sessions.RedactDSN, and also the value of every query option whose name
// holds "password" (redis' sentinel_password) and a password holding '/',
// which RedactDSN leaves. A DSN written scheme:// keeps its two slashes
// (memory://, file://).
func redact(dsn string) string {
	masked := dsn
	if base, query, ok := strings.Cut(dsn, "?"); ok {
		parts := strings.Split(query, "&")
		for i, p := range parts {
			name, _, _ := strings.Cut(p, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if strings.Contains(strings.ToLower(name), "password") {
				parts[i] = name + "=xxxxx"
			}
		}
		masked = base + "?" + strings.Join(parts, "&")
	}
	out := sessions.RedactDSN(masked)
	for _, sec := range dsnSecrets(dsn) {
		out = strings.ReplaceAll(out, sec, "xxxxx") // what RedactDSN missed
	}
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && !strings.Contains(out, "://") {
		if r, ok := strings.CutPrefix(out, scheme+":"); ok {
			out = scheme + "://" + r
		}
	}
	return out
}

// secretsOf returns what output must never show: the secrets of the
// DSNs among args (a flag's value too: --from=redis://…) and in SESSION_DSN
// and SESSION_DSN_PREVIOUS, and the keys of SESSION_ENCRYPTION_KEYS.
func secretsOf(args []string) []string {
	var out []string
	for _, a := range append([]string{os.Getenv(sessions.EnvDSN), os.Getenv(sessions.EnvPreviousDSN)}, args...) {
		if i := strings.Index(a, "="); i >= 0 && strings.HasPrefix(a, "-") {
			a = a[i+1:]
		}
		out = append(out, dsnSecrets(a)...)
	}
	for _, k := range strings.Split(os.Getenv(sessions.EnvEncryptionKeys), ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// dsnSecrets returns the password of dsn (raw and unescaped) and the
// values of its password query options. It reads the user information up
// to the last '@' before any '?' or '#', so a password holding '/' (which
// url.Parse takes for the start of a path, and RedactDSN then misses) is
// found too.
func dsnSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
			if u, err := url.PathUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
		}
	}
	_, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return nil
	}
	head, query, _ := strings.Cut(rest, "?")
	head, _, _ = strings.Cut(head, "#")
	if at := strings.LastIndex(head, "@"); at > 0 && !strings.HasPrefix(head, "/") {
		userinfo := head[:at]
		if _, pw, ok := strings.Cut(userinfo, ":"); ok {
			add(pw)
		} else if !strings.Contains(userinfo, "/") {
			add(userinfo) // a lone token in the user position
		}
	}
	query, _, _ = strings.Cut(query, "#")
	for _, p := range strings.Split(query, "&") {
		name, v, _ := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if strings.Contains(strings.ToLower(name), "password") {
			add(v)
			if u, err := url.QueryUnescape(v); err == nil && u != v {
				out = append(out, u)
			}
		}
	}
	return out
}

// scrubber masks secrets in everything written through it: the last line
// of defence behind redact, for errors from libraries that might quote a
// DSN whole. Each Write is scrubbed on its own; the tool writes whole
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
