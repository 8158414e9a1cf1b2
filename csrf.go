package sessions

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// CSRF protection for cookie sessions: a secret bound to the session,
// shown to pages masked afresh each time, and a middleware that refuses
// an unsafe request that carries neither a valid token nor the browser's
// word that it comes from the same origin.

const (
	// CSRFField is the form field CSRF reads the token from:
	//
	//	<input type="hidden" name="csrf_token" value="{{.CSRFToken}}">
	CSRFField = "csrf_token"

	// CSRFHeader is the request header CSRF reads the token from, for
	// scripts (fetch, XMLHttpRequest); it is read before the form field.
	CSRFHeader = "X-CSRF-Token"

	// CSRFKey is the session key the CSRF secret is kept under. Like
	// FlashKey it is reserved: an application that writes it breaks its
	// own tokens. Clear and Destroy remove it (pages shown before then
	// carry tokens that no longer pass); Refresh keeps it.
	CSRFKey = "_sessions.csrf"
)

// csrfSecretLen is the secret's length in bytes; a token is a pad of the
// same length followed by the secret XORed with the pad.
const csrfSecretLen = 32

// csrfRefusal is the body of a refused request.
const csrfRefusal = "Forbidden: this request did not come from this site's own pages (a missing or invalid CSRF token)\n"

// CSRFToken returns a token for the request's session, for a form field
// (CSRFField) or a script's header (CSRFHeader). It binds a random secret
// to the session under CSRFKey the first time, starting a session if there
// is none (saved at once, as Update does). Every call returns different
// bytes, the secret XORed with a fresh random pad (so a compressed page
// never shows the same token twice: BREACH), and every token it returned
// stays valid for the session until Clear or Destroy.
//
// It returns "" on a route without the middleware, or when the secret
// could not be stored (the error is added to c.Errors): a form carrying ""
// is refused, never accepted.
func CSRFToken(c *gin.Context) string {
	secret, ok := csrfSecret(c)
	if !ok {
		if sessionOf(c) == nil {
			return ""
		}
		fresh := make([]byte, csrfSecretLen)
		_, _ = rand.Read(fresh)
		enc, err := Update(c, CSRFKey, func(cur string, ok bool) string {
			if _, valid := decodeCSRFSecret(cur, ok); valid {
				return cur // another request of the session made one first
			}
			return base64.RawURLEncoding.EncodeToString(fresh)
		})
		if err != nil {
			_ = c.Error(err)
			return ""
		}
		secret, _ = decodeCSRFSecret(enc, true)
	}
	tok := make([]byte, 2*csrfSecretLen)
	_, _ = rand.Read(tok[:csrfSecretLen])
	subtle.XORBytes(tok[csrfSecretLen:], tok[:csrfSecretLen], secret)
	return base64.RawURLEncoding.EncodeToString(tok)
}

// csrfSecret returns the session's secret, if it has a valid one.
func csrfSecret(c *gin.Context) ([]byte, bool) {
	enc, ok := Get[string](c, CSRFKey)
	return decodeCSRFSecret(enc, ok)
}

func decodeCSRFSecret(enc string, ok bool) ([]byte, bool) {
	if !ok {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	return b, err == nil && len(b) == csrfSecretLen
}

// validCSRFToken reports whether token is a masked form of the session's
// secret, in constant time with respect to the secret.
func validCSRFToken(c *gin.Context, token string) bool {
	if len(token) != base64.RawURLEncoding.EncodedLen(2*csrfSecretLen) {
		return false
	}
	tok, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	secret, ok := csrfSecret(c)
	if !ok {
		return false // no session, or no secret: nothing to match (login CSRF)
	}
	subtle.XORBytes(tok[csrfSecretLen:], tok[csrfSecretLen:], tok[:csrfSecretLen])
	return subtle.ConstantTimeCompare(tok[csrfSecretLen:], secret) == 1
}

// CSRF returns the middleware that protects a cookie session's unsafe
// requests from cross-site request forgery. Install it after the
// session middleware, on the routes (or the route group) that browsers
// use:
//
//	r.Use(m.Handler(), sessions.CSRF())
//
// GET, HEAD, OPTIONS and TRACE pass: they must change nothing. Any other
// method passes when it carries a valid token (CSRFToken) in the
// X-CSRF-Token header or the csrf_token form field (of a urlencoded or
// multipart body; never the URL's query, which leaks through logs and
// Referer), or, without a token, when the browser marks it
// "Sec-Fetch-Site: same-origin", as Go's http.CrossOriginProtection
// trusts it. Everything else is refused with 403, a short text body and
// Cache-Control: no-store, and the rest of the chain does not run: a
// missing, garbage or other session's token, a cross-site or same-site
// request without one, a request with no session at all (a forged login).
// "Sec-Fetch-Site: none" (a request the user started from the address bar
// or a bookmark) is refused too: such a request is a GET, and an unsafe
// one claiming it is not a browser's.
//
// Requests served by a header Manager (Config.Header) pass: a browser
// never adds that header on its own, so there is no ambient credential to
// forge. To exempt a route (a webhook that authenticates by signature),
// register it outside the group that uses CSRF.
func CSRF() gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			c.Next()
			return
		}
		s := sessionOf(c)
		if s == nil {
			_ = c.Error(ErrNoMiddleware)
			c.Header("Cache-Control", "no-store")
			c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("Internal Server Error: CSRF protection without a session middleware\n"))
			c.Abort()
			return
		}
		if s.m.tr.usesHeader() {
			c.Next()
			return
		}
		token := c.GetHeader(CSRFHeader)
		if token == "" {
			token = c.PostForm(CSRFField)
		}
		if token != "" {
			if validCSRFToken(c, token) {
				c.Next()
				return
			}
		} else if vals := c.Request.Header.Values("Sec-Fetch-Site"); len(vals) == 1 && vals[0] == "same-origin" {
			c.Next()
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Data(http.StatusForbidden, "text/plain; charset=utf-8", []byte(csrfRefusal))
		c.Abort()
	}
}
