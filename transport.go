package sessions

import (
	"net/http"
	"strings"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// The transport: where the session token travels between client and
// server. A Manager has one, chosen by Config.Header: the session cookie
// (browsers; cookie.go holds its wire format), or a request header (API
// clients, as Spring Session's X-Auth-Token). The engine (internal/core)
// does not know which: it sees an ID, and reports when the client's copy
// must change; this file turns that into a Set-Cookie or a response
// header.
//
// A header Manager never reads nor sets a cookie. A request carries the
// token in the header (with Authorization: "Bearer <token>", any other
// scheme is no session); a response that gives the client a new token (a
// new session, Refresh, a session restarted after Destroy) carries it in
// the same header, in the form the client sends it back; a response to a
// Destroy that starts no new session carries the header with an empty
// value: the token is gone.
type transport struct {
	header string // canonical header name; "" for the cookie
	bearer bool   // header is Authorization: the token follows "Bearer "
	cookie cookieFormat
	name   string // the cookie's name
}

// authorization is the header that takes the "Bearer" scheme.
const authorization = "Authorization"

func newTransport(cfg Config) transport {
	if cfg.Header != "" {
		h := http.CanonicalHeaderKey(cfg.Header)
		return transport{header: h, bearer: h == authorization}
	}
	return transport{cookie: newCookieFormat(cfg), name: cfg.CookieName}
}

// usesHeader reports whether the token travels in a request header: a
// request of such a Manager carries no ambient credential.
func (t *transport) usesHeader() bool { return t.header != "" }

// requestID returns the session ID the request carries, if it has the
// shape of one (core.ValidID), else "": from the cookie, or from the
// header. A header given more than once is no session: which one the
// client meant is not for the server to guess.
func (t *transport) requestID(r *http.Request) string {
	if t.header == "" {
		return requestID(r, t.name)
	}
	vals := r.Header[t.header]
	if len(vals) != 1 {
		return ""
	}
	v := vals[0]
	if t.bearer {
		scheme, token, ok := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		v = token
	}
	v = strings.Trim(v, " \t")
	if !core.ValidID(v) {
		return ""
	}
	return v
}

// value returns the response header's value for id: id itself, or for
// Authorization "Bearer <id>", so the client sends back what it got. ""
// stays "": the token is gone.
func (t *transport) value(id string) string {
	if t.bearer && id != "" {
		return "Bearer " + id
	}
	return id
}

// send sets the response's token: for the cookie, the Set-Cookie header
// (replacing prev, the one this request set before, so a response carries
// one); for a header Manager, the header. It returns what it set, the
// prev of the next call.
//
// id is the token the client must hold from now on; "" expires it
// (Destroy). expires and maxAge are the cookie's (see cookieFormat.header);
// a header Manager ignores them: the client keeps the token as long as it
// likes, and the server enforces the lifetime. r is the request answered:
// over HTTPS the cookie is Secure (cookieFormat.forRequest).
func (t *transport) send(r *http.Request, h http.Header, prev, id string, expires time.Time, maxAge int) string {
	if t.header != "" {
		v := t.value(id)
		h[t.header] = []string{v}
		return v
	}
	hdr := t.cookie.forRequest(r).header(id, expires, maxAge)
	if prev != "" {
		cur := h["Set-Cookie"]
		for i, v := range cur {
			if v == prev {
				h["Set-Cookie"] = append(cur[:i:i], cur[i+1:]...)
				break
			}
		}
	}
	h["Set-Cookie"] = append(h["Set-Cookie"], hdr)
	return hdr
}
