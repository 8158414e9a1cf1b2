package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestExample walks the example as a browser would: count, log in, count,
// log out.
func TestExample(t *testing.T) {
	t.Setenv("SESSION_DSN", "memory://")
	gin.SetMode(gin.TestMode)
	srv := httptest.NewServer(newRouter())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}

	decode := func(resp *http.Response, err error) map[string]any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	home := func() map[string]any { return decode(client.Get(srv.URL + "/")) }
	cookie := func() string {
		u, _ := url.Parse(srv.URL)
		for _, c := range jar.Cookies(u) {
			if c.Name == "session" {
				return c.Value
			}
		}
		return ""
	}

	if v := home()["visits"]; v != 1.0 {
		t.Fatalf("first visit = %v", v)
	}
	if v := home()["visits"]; v != 2.0 {
		t.Fatalf("second visit = %v", v)
	}
	before := cookie()
	// The client follows the login's redirect to the home page.
	body := decode(client.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}}))
	if cookie() == before || cookie() == "" {
		t.Fatal("login did not give the session a new ID")
	}
	if body["user"] != "ada" || body["visits"] != 3.0 || body["flash"] != "welcome, ada" {
		t.Fatalf("after login: %v", body)
	}
	if body := home(); body["flash"] != "" || body["visits"] != 4.0 {
		t.Fatalf("the flash message shows once: %v", body)
	}
	body = decode(client.PostForm(srv.URL+"/logout", nil))
	if body["logged_in"] != false || body["flash"] != "logged out" || body["visits"] != 1.0 {
		t.Fatalf("after logout: %v", body)
	}
}
