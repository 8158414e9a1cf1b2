package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
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
	// A second device logs in as ada; the devices page lists both, and
	// "log out other devices" ends the first device's session.
	jar2, _ := cookiejar.New(nil)
	other := &http.Client{Jar: jar2}
	resp, err := other.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := func(c *http.Client) string {
		resp, err := c.Get(srv.URL + "/devices")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if p := page(client); strings.Count(p, "<tr><td>") != 2 || !strings.Contains(p, "this device") {
		t.Fatalf("devices page does not list both sessions:\n%s", p)
	}
	// The client follows the redirect back to the devices page.
	resp, err = other.PostForm(srv.URL+"/devices/logout-others", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if p := string(b); strings.Count(p, "<tr><td>") != 1 || !strings.Contains(p, "other devices logged out") {
		t.Fatalf("after logging out other devices:\n%s", p)
	}
	if body := home(); body["logged_in"] != false {
		t.Fatalf("the first device is still logged in: %v", body)
	}

	body = decode(client.PostForm(srv.URL+"/logout", nil))
	if body["logged_in"] != false || body["flash"] != "logged out" {
		t.Fatalf("after logout: %v", body)
	}
}
