package suite

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// Deletes win (see internal/core/tombstone.go): a request that loaded a
// session before it was revoked or logged out elsewhere, and then renews
// it, changes its cookie choice, updates or sets a value, hands out no
// cookie that reads as the user, and the user's index does not list it.

// inFlightOps are what a held request does after its session ended.
var inFlightOps = map[string]func(c *gin.Context) error{
	"refresh":      sessions.Refresh,
	"remember-on":  func(c *gin.Context) error { sessions.RememberMe(c, true); return nil },
	"remember-off": func(c *gin.Context) error { sessions.RememberMe(c, false); return nil },
	"update": func(c *gin.Context) error {
		_, err := sessions.Update(c, "n", func(n int, _ bool) int { return n + 1 })
		return err
	},
	"set": func(c *gin.Context) error { sessions.Set(c, "late", true); return nil },
}

// held registers a route on a that loads the session, signals loaded,
// waits for release and then runs op; it returns the route's path.
func (a *app) held(op func(*gin.Context) error, loaded, release chan struct{}) string {
	path := "/held/" + strconv.FormatInt(routeSeq.Add(1), 10)
	a.e.POST(path, func(c *gin.Context) {
		_ = sessions.User(c) // load the session before it ends
		close(loaded)
		<-release
		if err := op(c); err != nil {
			c.String(500, err.Error())
			return
		}
		c.Status(204)
	})
	return path
}

// routeSeq numbers the held routes, each registered once.
var routeSeq atomic.Int64

// cookiesOf returns the session cookie values a response set.
func cookiesOf(rec *httptest.ResponseRecorder) []string {
	var out []string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == "session" && c.Value != "" {
			out = append(out, c.Value)
		}
	}
	return out
}

// assertLoggedOut checks that none of cookies reads as user on either
// instance and that user's index lists nothing.
func assertLoggedOut(t *testing.T, user string, insts []*app, cookies ...string) {
	t.Helper()
	for _, inst := range insts {
		for _, c := range cookies {
			assert.Equal(t, "", inst.whoami(c), "a cookie handed out or held after the end reads as the user")
		}
		infos, err := inst.m.UserSessions(context.Background(), user)
		require.NoError(t, err)
		assert.Empty(t, infos, "the user's index lists a session after the end")
	}
}

func inFlight(t *testing.T, two func(*testing.T) (*app, *app)) {
	ctx := context.Background()
	ends := map[string]func(b *app, cookie string){
		"RevokeUser": func(b *app, _ string) {
			_, err := b.m.RevokeUser(ctx, "ada")
			require.NoError(t, err)
		},
		"LogoutInAnotherTab": func(b *app, cookie string) {
			require.Equal(t, 204, b.do("POST", "/logout", cookie, "UA").Code)
		},
	}
	for endName, end := range ends {
		for opName, op := range inFlightOps {
			t.Run("InFlight/"+opName+"/After"+endName, func(t *testing.T) {
				a, b := two(t)
				id := a.login("ada", "UA")
				loaded, release := make(chan struct{}), make(chan struct{})
				path := a.held(op, loaded, release)
				done := make(chan *httptest.ResponseRecorder)
				go func() { done <- a.do("POST", path, id, "UA") }()
				<-loaded
				end(b, id)
				close(release)
				rec := <-done
				assert.Less(t, rec.Code, 500, rec.Body.String())
				assertLoggedOut(t, "ada", []*app{a, b}, append(cookiesOf(rec), id)...)
			})
		}
	}

	// Many clients renewing their sessions in a loop while the user is
	// revoked: once RevokeUser returns and the requests it raced are
	// done, no session of the user is left.
	t.Run("InFlight/RefreshStormAcrossRevokeUser", func(t *testing.T) {
		a, b := two(t)
		const clients = 8
		var wg sync.WaitGroup
		var stop atomic.Bool
		last := make([]string, clients)
		for i := range clients {
			last[i] = a.login("ada", "UA")
			inst := []*app{a, b}[i%2]
			wg.Go(func() {
				for !stop.Load() {
					rec := inst.do("POST", "/refresh", last[i], "UA")
					if cs := cookiesOf(rec); len(cs) == 1 {
						last[i] = cs[0]
					}
				}
			})
		}
		_, err := b.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		stop.Store(true)
		wg.Wait()
		assertLoggedOut(t, "ada", []*app{a, b}, last...)
	})
}
