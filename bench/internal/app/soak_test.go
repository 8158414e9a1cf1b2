package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ginkit/sessions"
)

// soakServer builds a ginkit memory server with soak and returns a
// function that serves one GET with a cookie ("" for none) and returns
// the status, body and the session cookie the response sets ("" if none).
func soakServer(t *testing.T, soak *Soak, onManager func(*sessions.Manager)) func(path, cookie string) (int, string, string) {
	t.Helper()
	h, cleanup, err := Build(Spec{Lib: "ginkit", Store: "memory", Soak: soak, OnManager: onManager})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return func(path, cookie string) (int, string, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		set := ""
		for _, c := range rec.Result().Cookies() {
			if c.Name == CookieName && c.Value != "" && c.MaxAge >= 0 {
				set = c.Name + "=" + c.Value
			}
		}
		return rec.Code, rec.Body.String(), set
	}
}

func TestSoakLoginAndLogout(t *testing.T) {
	var m *sessions.Manager
	get := soakServer(t, &Soak{}, func(mm *sessions.Manager) { m = mm })
	code, _, old := get("/write", "")
	if code != http.StatusOK || old == "" {
		t.Fatalf("/write: %d, cookie %q", code, old)
	}
	// Login: a new ID (the old one is dead) bound to the user.
	code, body, in := get("/login?user=ada", old)
	if code != http.StatusOK || body != "ada" || in == "" || in == old {
		t.Fatalf("/login: %d %q, cookie %q (old %q)", code, body, in, old)
	}
	if _, body, _ := get("/read", in); body != "1 Ada Lovelace" {
		t.Fatalf("/read after login: %q: the data did not follow the new ID", body)
	}
	if _, body, _ := get("/read", old); body != "0 " {
		t.Fatalf("/read with the pre-login ID: %q: it still works", body)
	}
	list, err := m.UserSessions(t.Context(), "ada")
	if err != nil || len(list) != 1 {
		t.Fatalf("ada's sessions: %v, %v", list, err)
	}
	if code, _, _ := get("/login", in); code != http.StatusBadRequest {
		t.Fatalf("/login without a user: %d", code)
	}
	// Logout: the session ends (and leaves the user's index), and a new
	// anonymous one takes its place.
	code, _, out := get("/logout", in)
	if code != http.StatusOK || out == "" || out == in {
		t.Fatalf("/logout: %d, cookie %q (logged in as %q)", code, out, in)
	}
	if _, body, _ := get("/read", in); body != "0 " {
		t.Fatalf("/read with the logged-out ID: %q", body)
	}
	if list, err := m.UserSessions(t.Context(), "ada"); err != nil || len(list) != 0 {
		t.Fatalf("ada's sessions after logout: %v, %v", list, err)
	}
	before := m.Stats()
	if code, _, _ := get("/read", out); code != http.StatusOK || m.Stats().Hits != before.Hits+1 {
		t.Fatalf("the session after logout is not live: %d, stats %+v", code, m.Stats())
	}
	// The test routes.
	if code, _, _ := get("/fail", ""); code != http.StatusInternalServerError {
		t.Fatalf("/fail: %d", code)
	}
	if code, _, _ := get("/leak", ""); code != http.StatusOK {
		t.Fatalf("/leak: %d", code)
	}
}

func TestNoSoakNoSoakRoutes(t *testing.T) {
	get := soakServer(t, nil, nil)
	for _, p := range []string{"/login?user=ada", "/logout", "/fail", "/leak"} {
		if code, _, _ := get(p, ""); code != http.StatusNotFound {
			t.Errorf("%s without Soak: %d", p, code)
		}
	}
	if got, err := (*Soak)(nil).dsn(Spec{Store: "memory"}, "memory://"); err != nil || got != "memory://" {
		t.Errorf("nil Soak changed the DSN to %q (%v)", got, err)
	}
}

func TestSoakSizesTheMemoryStore(t *testing.T) {
	s := &Soak{MaxEntries: 250000}
	if got, err := s.dsn(Spec{Store: "memory"}, "memory://"); err != nil || got != "memory://?max_entries=250000" {
		t.Fatalf("dsn = %q, %v", got, err)
	}
	if got, err := s.dsn(Spec{Store: "redis"}, "redis://127.0.0.1:1/0"); err != nil || got != "redis://127.0.0.1:1/0" {
		t.Fatalf("a redis DSN became %q (%v)", got, err)
	}
	// The size reaches the driver: a store of one entry keeps at most
	// one of 20 sessions, the default keeps them all.
	live := func(soak *Soak) int {
		get := soakServer(t, soak, nil)
		var cookies []string
		for range 20 {
			_, _, c := get("/write", "")
			cookies = append(cookies, c)
		}
		n := 0
		for _, c := range cookies {
			if _, body, _ := get("/read", c); strings.HasPrefix(body, "1 ") {
				n++
			}
		}
		return n
	}
	if n := live(&Soak{MaxEntries: 1}); n > 1 {
		t.Fatalf("max_entries=1 kept %d sessions", n)
	}
	if n := live(&Soak{}); n != 20 {
		t.Fatalf("the default kept %d of 20 sessions", n)
	}
}
