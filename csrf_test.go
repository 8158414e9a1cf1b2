package sessions_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// csrfApp is a router with the session middleware and CSRF on every
// route, and a count of the unsafe requests its handler ran.
type csrfApp struct {
	t    *testing.T
	r    *gin.Engine
	ran  atomic.Int64
	name string // the session cookie's name
}

func newCSRFApp(t *testing.T, header string) *csrfApp {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg := sessions.DefaultConfig()
	cfg.Header = header
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	a := &csrfApp{t: t, r: gin.New(), name: cfg.CookieName}
	a.r.Use(m.Handler(), sessions.CSRF())
	// The page: two tokens, as a page with two forms shows them.
	a.r.GET("/form", func(c *gin.Context) {
		c.String(200, sessions.CSRFToken(c)+" "+sessions.CSRFToken(c))
	})
	a.r.GET("/login", func(c *gin.Context) { a.ran.Add(1); c.String(200, "ran") })
	act := func(c *gin.Context) {
		a.ran.Add(1)
		sessions.Set(c, "acted", true)
		c.String(200, "ran")
	}
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		a.r.Handle(method, "/act", act)
	}
	return a
}

// page gets /form as a new visitor: the session cookie and two tokens.
func (a *csrfApp) page() (cookie string, tok1, tok2 string) {
	a.t.Helper()
	rec := httptest.NewRecorder()
	a.r.ServeHTTP(rec, httptest.NewRequest("GET", "/form", nil))
	require.Equal(a.t, 200, rec.Code)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == a.name {
			cookie = ck.Value
		}
	}
	require.NotEmpty(a.t, cookie, "CSRFToken starts a session")
	tok1, tok2, _ = strings.Cut(rec.Body.String(), " ")
	return cookie, tok1, tok2
}

// req describes one request to /act.
type req struct {
	method, cookie, header, form, query, fetchSite string
}

func (a *csrfApp) do(q req) *httptest.ResponseRecorder {
	a.t.Helper()
	if q.method == "" {
		q.method = "POST"
	}
	var body *strings.Reader
	if q.form != "" {
		body = strings.NewReader(url.Values{sessions.CSRFField: {q.form}, "user": {"ada"}}.Encode())
	} else {
		body = strings.NewReader("user=ada")
	}
	path := "/act"
	if q.query != "" {
		path += "?" + url.Values{sessions.CSRFField: {q.query}}.Encode()
	}
	r := httptest.NewRequest(q.method, path, body)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if q.cookie != "" {
		r.AddCookie(&http.Cookie{Name: a.name, Value: q.cookie})
	}
	if q.header != "" {
		r.Header.Set(sessions.CSRFHeader, q.header)
	}
	if q.fetchSite != "" {
		r.Header.Set("Sec-Fetch-Site", q.fetchSite)
	}
	rec := httptest.NewRecorder()
	a.r.ServeHTTP(rec, r)
	return rec
}

func TestCSRFPasses(t *testing.T) {
	a := newCSRFApp(t, "")
	cookie, tok1, tok2 := a.page()
	assert.NotEqual(t, tok1, tok2, "two tokens of one session differ (BREACH)")
	_, tok3, _ := func() (string, string, string) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/form", nil)
		r.AddCookie(&http.Cookie{Name: a.name, Value: cookie})
		a.r.ServeHTTP(rec, r)
		one, two, _ := strings.Cut(rec.Body.String(), " ")
		return "", one, two
	}()
	for name, q := range map[string]req{
		"first token in the form":              {cookie: cookie, form: tok1},
		"second token in the header":           {cookie: cookie, header: tok2},
		"a later page's token":                 {cookie: cookie, form: tok3},
		"PUT with a token":                     {method: "PUT", cookie: cookie, header: tok1},
		"DELETE with a token":                  {method: "DELETE", cookie: cookie, header: tok2},
		"same-origin without a token":          {cookie: cookie, fetchSite: "same-origin"},
		"same-origin login without a session":  {fetchSite: "same-origin"},
		"a token with a cross-site fetch mark": {cookie: cookie, form: tok1, fetchSite: "cross-site"},
	} {
		before := a.ran.Load()
		rec := a.do(q)
		assert.Equal(t, 200, rec.Code, "%s: %s", name, rec.Body.String())
		assert.Equal(t, before+1, a.ran.Load(), "%s: the handler ran", name)
	}
	// Safe methods need nothing.
	rec := httptest.NewRecorder()
	a.r.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	assert.Equal(t, 200, rec.Code)
}

func TestCSRFRefusals(t *testing.T) {
	a := newCSRFApp(t, "")
	cookie, tok1, _ := a.page()
	otherCookie, otherTok, _ := a.page()
	require.NotEqual(t, cookie, otherCookie)
	zeros := base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	raw, err := base64.RawURLEncoding.DecodeString(tok1)
	require.NoError(t, err)
	raw[len(raw)-1] ^= 1
	flipped := base64.RawURLEncoding.EncodeToString(raw)
	for name, q := range map[string]req{
		"no token":                            {cookie: cookie},
		"no token, PATCH":                     {method: "PATCH", cookie: cookie},
		"another session's token":             {cookie: cookie, form: otherTok},
		"another session's token as header":   {cookie: cookie, header: otherTok},
		"garbage":                             {cookie: cookie, form: "garbage"},
		"garbage of the right length":         {cookie: cookie, header: strings.Repeat("A", len(tok1))},
		"a zero pad and zero secret":          {cookie: cookie, header: zeros},
		"a token changed in one bit":          {cookie: cookie, form: flipped},
		"the token twice":                     {cookie: cookie, form: tok1 + tok1},
		"the token in the URL":                {cookie: cookie, query: tok1},
		"cross-site without a token":          {cookie: cookie, fetchSite: "cross-site"},
		"same-site without a token":           {cookie: cookie, fetchSite: "same-site"},
		"none without a token":                {cookie: cookie, fetchSite: "none"},
		"a bad token, same-origin":            {cookie: cookie, form: "garbage", fetchSite: "same-origin"},
		"no session at all (login CSRF)":      {},
		"no session, another session's token": {form: otherTok},
		"no session, cross-site":              {fetchSite: "cross-site"},
	} {
		before := a.ran.Load()
		rec := a.do(q)
		assert.Equal(t, http.StatusForbidden, rec.Code, name)
		assert.Equal(t, before, a.ran.Load(), "%s: the handler did not run", name)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), name)
		assert.Contains(t, rec.Body.String(), "CSRF token", name)
		assert.Empty(t, rec.Header().Values("Set-Cookie"), "%s: a refused request changes no session", name)
	}
}

// A header Manager's requests carry no ambient credential: they pass
// without a token.
func TestCSRFHeaderClientPasses(t *testing.T) {
	a := newCSRFApp(t, "X-Auth-Token")
	for _, method := range []string{"POST", "DELETE"} {
		rec := a.do(req{method: method, fetchSite: "cross-site"})
		assert.Equal(t, 200, rec.Code, method)
		tok := rec.Header().Get("X-Auth-Token")
		require.NotEmpty(t, tok)
		r := httptest.NewRequest(method, "/act", nil)
		r.Header.Set("X-Auth-Token", tok)
		rec = httptest.NewRecorder()
		a.r.ServeHTTP(rec, r)
		assert.Equal(t, 200, rec.Code, "%s with the token and no CSRF token", method)
	}
	assert.Equal(t, int64(4), a.ran.Load())
}

// The secret is a session value: Refresh (login) keeps it, so a page
// shown before the login still posts; Destroy ends it.
func TestCSRFAcrossRefreshAndDestroy(t *testing.T) {
	a := newCSRFApp(t, "")
	a.r.POST("/login", func(c *gin.Context) { require.NoError(t, sessions.Refresh(c)); c.String(200, sessions.ID(c)) })
	a.r.POST("/logout", func(c *gin.Context) { require.NoError(t, sessions.Destroy(c)); c.Status(204) })
	post := func(path, cookie, tok string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		r.AddCookie(&http.Cookie{Name: a.name, Value: cookie})
		r.Header.Set(sessions.CSRFHeader, tok)
		rec := httptest.NewRecorder()
		a.r.ServeHTTP(rec, r)
		return rec
	}
	cookie, tok1, tok2 := a.page()
	rec := post("/login", cookie, tok1)
	require.Equal(t, 200, rec.Code)
	renewed := rec.Body.String()
	assert.NotEqual(t, cookie, renewed)
	assert.Equal(t, 200, a.do(req{cookie: renewed, header: tok2}).Code, "a token from before Refresh passes after it")
	assert.Equal(t, 403, a.do(req{cookie: cookie, header: tok2}).Code, "but not with the dead ID")
	require.Equal(t, 204, post("/logout", renewed, tok2).Code)
	assert.Equal(t, 403, a.do(req{cookie: renewed, header: tok2}).Code, "Destroy ends the secret with the session")
}

func TestCSRFWithoutMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	var tok string
	ran := false
	r.GET("/", func(c *gin.Context) { tok = sessions.CSRFToken(c); c.Status(204) })
	r.POST("/", sessions.CSRF(), func(c *gin.Context) { ran = true })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Empty(t, tok, "no token without a session")
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	assert.Equal(t, 500, rec.Code, "CSRF without the session middleware fails closed")
	assert.False(t, ran)
}
