package main

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLive: the live page's stream runs for a logged-in user and ends
// with an "ended" event when "Log out other devices" on another client
// ends the session; the other client's stream runs on. Without a session
// the stream answers 204, which stops EventSource's reconnecting.
func TestLive(t *testing.T) {
	cfg := memoryConfig()
	cfg.WatchInterval = 50 * time.Millisecond
	srv, _ := newTestServer(t, cfg)
	a, b := newClient(), newClient()
	for _, c := range []*http.Client{a, b} {
		if resp, _ := get(t, c, "POST", srv.URL+"/login", "", url.Values{"user": {"ada"}}); resp.StatusCode != 200 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
	}
	resp, body := get(t, a, "GET", srv.URL+"/live", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="/live.js" defer></script>`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'; connect-src 'self'") {
		t.Fatalf("live page: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	if resp, body := get(t, a, "GET", srv.URL+"/live.js", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `new EventSource("/live/events")`) {
		t.Fatalf("live.js: %d\n%s", resp.StatusCode, body)
	}

	events := func(c *http.Client) <-chan string {
		resp, err := c.Get(srv.URL + "/live/events")
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %v %v", resp, err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		out := make(chan string, 16)
		go func() {
			defer close(out)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					out <- ev
				}
			}
		}()
		return out
	}
	next := func(ch <-chan string) string {
		select {
		case ev, ok := <-ch:
			if !ok {
				return "(closed)"
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within ten seconds")
			return ""
		}
	}
	aEvents, bEvents := events(a), events(b)
	if ev := next(aEvents); ev != "watching" {
		t.Fatalf("first event %q", ev)
	}
	if ev := next(bEvents); ev != "watching" {
		t.Fatalf("first event %q", ev)
	}
	if resp, body := get(t, b, "POST", srv.URL+"/devices/logout-others", "", nil); resp.StatusCode != 200 || !strings.Contains(body, "other devices logged out") {
		t.Fatalf("logout others: %d\n%s", resp.StatusCode, body)
	}
	if ev := next(aEvents); ev != "ended" {
		t.Fatalf("after the other device logged this one out: event %q, want ended", ev)
	}
	if ev := next(aEvents); ev != "(closed)" {
		t.Fatalf("after ended: %q, want the stream closed", ev)
	}
	select {
	case ev := <-bEvents:
		t.Fatalf("the device that stayed logged in got %q", ev)
	default:
	}
	resp, err := a.Get(srv.URL + "/live/events")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("events without a session: %v %v, want 204", resp, err)
	}
	resp.Body.Close()
}
