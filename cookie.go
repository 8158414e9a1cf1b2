package sessions

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// The session cookie on the wire: reading the ID from a request and
// writing the Set-Cookie header. Both produce exactly what net/http's
// Request.Cookie and Cookie.String would (cookie_test.go compares them on
// every configuration and on hostile headers), without building every
// cookie of the request or formatting the static attributes per response.

// requestID returns the session ID the request carries in the cookie
// called name: the value net/http's r.Cookie(name) returns, if it has the
// shape of a session ID (validID), else "". Like r.Cookie, it takes the
// first cookie of that name whose value is made of valid cookie bytes,
// with one pair of surrounding double quotes removed. Unlike r.Cookie, it
// allocates nothing, and does not refuse a header holding more than
// net/http's limit of cookies (a limit on the allocation this scan does not
// make).
func requestID(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			n, val, _ := strings.Cut(part, "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if !validCookieValue(val) {
				continue
			}
			if core.ValidID(val) {
				return val
			}
			return ""
		}
	}
	return ""
}

// validCookieValue reports whether net/http accepts v as a cookie value.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// cookieFormat is the session cookie's Set-Cookie header cut around the
// parts that change per response (the value and the expiry), formatted
// once by net/http from the Config.
type cookieFormat struct {
	name  string // "name="
	attrs string // "; Path=…; Domain=…", before the expiry
	flags string // "; HttpOnly; Secure; SameSite=…; Partitioned", after it
	// secure is flags with Secure, for a request that came over HTTPS
	// when Config.Secure is off (the same as flags when it is on).
	secure string
}

func newCookieFormat(cfg Config) cookieFormat {
	head := (&http.Cookie{Name: cfg.CookieName, Path: cfg.Path, Domain: cfg.Domain}).String()
	c := http.Cookie{Name: cfg.CookieName, HttpOnly: !cfg.ScriptAccess, Secure: cfg.Secure, SameSite: cfg.SameSite, Partitioned: cfg.Partitioned}
	tail := c.String()
	c.Secure = true
	secure := c.String()
	name := cfg.CookieName + "="
	return cookieFormat{name: name, attrs: head[len(name):], flags: tail[len(name):], secure: secure[len(name):]}
}

// forRequest returns the format for a response to r: Secure when r came
// over HTTPS, directly or as a proxy says (viaHTTPS).
func (f cookieFormat) forRequest(r *http.Request) cookieFormat {
	if f.flags != f.secure && viaHTTPS(r) {
		f.flags = f.secure
	}
	return f
}

// viaHTTPS reports whether r came over HTTPS: on a TLS connection, or
// through a proxy that says so in X-Forwarded-Proto or Forwarded. The
// headers are trusted only to add the Secure attribute: a client that
// forges them gets a cookie its plain-HTTP connection will not keep.
func viaHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		first, _, _ := strings.Cut(p, ",")
		return strings.EqualFold(textproto.TrimString(first), "https")
	}
	if fwd := r.Header.Get("Forwarded"); fwd != "" {
		first, _, _ := strings.Cut(fwd, ",")
		for _, pair := range strings.Split(first, ";") {
			k, v, _ := strings.Cut(textproto.TrimString(pair), "=")
			if strings.EqualFold(k, "proto") {
				return strings.EqualFold(strings.Trim(v, `"`), "https")
			}
		}
	}
	return false
}

// header returns the Set-Cookie value for a session cookie holding id
// (which needs no quoting: a session ID or ""), with no expiry (a browser
// session cookie) when expires is zero, else expiring at expires with a
// Max-Age of maxAge seconds (below one: "Max-Age=0", delete now).
func (f cookieFormat) header(id string, expires time.Time, maxAge int) string {
	var sb strings.Builder
	sb.Grow(len(f.name) + len(id) + len(f.attrs) + len(f.flags) + len("; Expires=Mon, 02 Jan 2006 15:04:05 GMT; Max-Age=") + 12)
	sb.WriteString(f.name)
	sb.WriteString(id)
	sb.WriteString(f.attrs)
	if !expires.IsZero() {
		var buf [64]byte
		b := append(buf[:0], "; Expires="...)
		b = expires.UTC().AppendFormat(b, http.TimeFormat)
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, int64(max(maxAge, 0)), 10)
		sb.Write(b)
	}
	sb.WriteString(f.flags)
	return sb.String()
}
