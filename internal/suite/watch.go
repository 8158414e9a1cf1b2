package suite

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// watchInterval is the suite's Config.WatchInterval: short, so a watch
// ends quickly, and long enough for a remote store's round under -race.
const watchInterval = 100 * time.Millisecond

// watchDeadline is how long the suite waits for a watch to end: an
// interval plus generous slack for a loaded machine. A watch that should
// end and does not fails the test after it; one that ends sooner passes
// at once.
const watchDeadline = watchInterval + 10*time.Second

// Watch runs the Watch suite against drivers from open, on a real HTTP
// server with a Server-Sent Events route: a watching request ends after
// RevokeUser, after a logout (Destroy) from another tab, and after a
// Refresh by another request, while another session's stream runs on; a
// session watched for longer than its lifetime is still alive afterwards,
// while an idle control session of the same lifetime expired. slowExpiry
// is as for Middleware. Middleware runs it.
func Watch(t *testing.T, open Opener, slowExpiry time.Duration) {
	// Users are named per subtest: the subtests run in parallel, and some
	// openers (the SQL drivers') share one store between them.
	ends := []struct {
		name string
		end  func(w *watchEnv, user, cookie string)
	}{
		{"RevokeUser", func(w *watchEnv, user, _ string) {
			n, err := w.M.RevokeUser(context.Background(), user)
			require.NoError(w.T, err)
			require.Equal(w.T, 1, n)
		}},
		{"DestroyFromAnotherTab", func(w *watchEnv, _, cookie string) {
			require.Equal(w.T, http.StatusNoContent, w.Do("POST", "/logout", cookie).Code)
		}},
		{"RefreshByAnotherRequest", func(w *watchEnv, _, cookie string) {
			require.Equal(w.T, http.StatusNoContent, w.Do("POST", "/refresh", cookie).Code)
		}},
	}
	for _, tc := range ends {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWatchEnv(t, open, nil)
			ada, bob := "ada-"+tc.name, "bob-"+tc.name
			adaCookie, bobCookie := w.login(ada), w.login(bob)
			live, other := w.live(adaCookie), w.live(bobCookie)
			tc.end(w, ada, adaCookie)
			assert.Contains(t, live.end(), "the session ended", "the watching request ends with its session")
			assert.False(t, other.ended(), "another session's watch runs on")
			assert.Equal(t, bob, w.whoami(bobCookie))
		})
	}

	t.Run("KeptAliveWhileWatched", func(t *testing.T) {
		t.Parallel()
		lifetime := max(2*time.Second, slowExpiry)
		w := newWatchEnv(t, open, func(c *sessions.Config) { c.Lifetime = lifetime })
		watched, idle := w.login("ada-kept"), w.login("bob-idle")
		live := w.live(watched)
		// Twice the lifetime: the idle deadline set at login has long
		// passed, for both sessions, unless something extended it.
		time.Sleep(2 * lifetime)
		assert.False(t, live.ended(), "the watch runs for as long as its session lives")
		assert.Equal(t, "ada-kept", w.whoami(watched), "the watched session is alive after twice its lifetime")
		live.close()
		deadline := time.Now().Add(2 * lifetime)
		for w.whoami(idle) != "" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		assert.Equal(t, "", w.whoami(idle), "the idle control session of the same lifetime expired")
	})
}

// watchEnv is an Env served by a real HTTP server, with the routes a live
// page needs.
type watchEnv struct {
	*Env
	srv *httptest.Server
}

func newWatchEnv(t *testing.T, open Opener, mutate func(*sessions.Config)) *watchEnv {
	// The driver itself, not the counting wrapper, which hides the user
	// index RevokeUser needs.
	var raw sessions.Driver
	e := NewEnv(t, func(t *testing.T) sessions.Driver { raw = open(t); return raw }, func(c *sessions.Config) {
		c.Driver = raw
		c.WatchInterval = watchInterval
		if mutate != nil {
			mutate(c)
		}
	})
	e.Engine.POST("/login/:user", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		if err := sessions.SetUser(c, c.Param("user")); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	})
	e.Engine.GET("/whoami", func(c *gin.Context) { c.String(200, sessions.User(c)) })
	e.Engine.POST("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	})
	e.Engine.POST("/refresh", func(c *gin.Context) {
		if err := sessions.Refresh(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(http.StatusNoContent)
	})
	// The live page's stream: an "open" event once watching, then an
	// "end" event with the watch's cause when it ends.
	e.Engine.GET("/live", func(c *gin.Context) {
		ctx, cancel := sessions.Watch(c)
		defer cancel()
		c.Header("Content-Type", "text/event-stream")
		c.Header("Cache-Control", "no-store")
		c.Status(http.StatusOK)
		fmt.Fprint(c.Writer, "event: open\ndata: watching\n\n")
		c.Writer.Flush()
		<-ctx.Done()
		fmt.Fprintf(c.Writer, "event: end\ndata: %v\n\n", context.Cause(ctx))
		c.Writer.Flush()
	})
	srv := httptest.NewServer(e.Engine)
	t.Cleanup(srv.Close)
	return &watchEnv{Env: e, srv: srv}
}

// login logs in as user from a new browser and returns its cookie.
func (w *watchEnv) login(user string) string {
	w.T.Helper()
	rec := w.Do("POST", "/login/"+user, "")
	require.Equal(w.T, http.StatusNoContent, rec.Code, rec.Body.String())
	ck := w.Cookie(rec)
	require.NotNil(w.T, ck, "login set no cookie")
	return ck.Value
}

func (w *watchEnv) whoami(cookie string) string { return w.Do("GET", "/whoami", cookie).Body.String() }

// liveStream is a client of /live over a real connection.
type liveStream struct {
	t      *testing.T
	cancel context.CancelFunc
	done   chan string // receives the end event's data, or "" when the stream broke off
}

// live opens /live with cookie and returns once the handler is watching.
func (w *watchEnv) live(cookie string) *liveStream {
	w.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.T.Cleanup(cancel) // before srv.Close, which waits for the handler
	req, err := http.NewRequestWithContext(ctx, "GET", w.srv.URL+"/live", nil)
	require.NoError(w.T, err)
	req.AddCookie(&http.Cookie{Name: w.M.Config().CookieName, Value: cookie})
	resp, err := w.srv.Client().Do(req)
	require.NoError(w.T, err)
	require.Equal(w.T, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(w.T, err)
	require.Equal(w.T, "event: open\n", line)
	l := &liveStream{t: w.T, cancel: cancel, done: make(chan string, 1)}
	go func() {
		defer resp.Body.Close()
		var data string
		inEnd := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				l.done <- data
				return
			}
			switch {
			case line == "event: end\n":
				inEnd = true
			case inEnd && strings.HasPrefix(line, "data: "):
				data, inEnd = strings.TrimSpace(strings.TrimPrefix(line, "data: ")), false
			}
		}
	}()
	return l
}

// end waits for the stream to end and returns the watch's cause.
func (l *liveStream) end() string {
	l.t.Helper()
	select {
	case cause := <-l.done:
		return cause
	case <-time.After(watchDeadline):
		l.t.Fatalf("the watching request did not end within %v", watchDeadline)
		return ""
	}
}

// ended reports whether the stream has ended by now.
func (l *liveStream) ended() bool {
	select {
	case cause := <-l.done:
		l.done <- cause
		return true
	default:
		return false
	}
}

// close hangs up.
func (l *liveStream) close() { l.cancel() }
