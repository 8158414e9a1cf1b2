package contrib_test

import (
	"testing"

	ginsessions "github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions/contrib"
)

// TestContribRenewAtLogin: Renew before the login's Save gives the
// session a new ID with its values, and the planted (or pre-login) ID is
// dead: session fixation through the adapter is defeated.
func TestContribRenewAtLogin(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	e.engine.GET("/cart", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("cart", "book")
		require.NoError(t, s.Save())
	})
	e.engine.GET("/login", func(c *gin.Context) {
		s := ginsessions.Default(c)
		require.NoError(t, contrib.Renew(s))
		s.Set("user", "ada")
		require.NoError(t, s.Save())
		c.String(200, s.ID())
	})
	e.engine.GET("/me", func(c *gin.Context) {
		s := ginsessions.Default(c)
		c.String(200, "%v|%v", s.Get("user"), s.Get("cart"))
	})
	ck := contribCookie(t, e.do("/cart", ""), contribName)
	require.NotNil(t, ck)
	planted := ck.Value

	rec := e.do("/login", planted)
	renewed := contribCookie(t, rec, contribName)
	require.NotNil(t, renewed, "the login sends the new ID")
	assert.NotEqual(t, planted, renewed.Value, "Renew gives a new ID")
	assert.Equal(t, renewed.Value, rec.Body.String())
	assert.Equal(t, "ada|book", e.do("/me", renewed.Value).Body.String(), "the values move to the new ID")
	assert.Equal(t, "<nil>|<nil>", e.do("/me", planted).Body.String(), "the old ID is dead")

	// A visitor with no stored session gets a fresh ID, never one it
	// brought along.
	fresh := contribCookie(t, e.do("/login", ""), contribName)
	require.NotNil(t, fresh)
	assert.Equal(t, "ada|<nil>", e.do("/me", fresh.Value).Body.String())
}

// TestContribRenewAfterLogoutElsewhere: a request that loaded its
// session before it was ended elsewhere cannot renew it back to life.
func TestContribRenewAfterLogoutElsewhere(t *testing.T) {
	e := newContribEnv(t, "memory://", nil)
	loaded, release := make(chan struct{}), make(chan struct{})
	e.engine.GET("/cart", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Set("cart", "book")
		require.NoError(t, s.Save())
	})
	e.engine.GET("/slow-renew", func(c *gin.Context) {
		s := ginsessions.Default(c)
		_ = s.Get("cart") // load
		close(loaded)
		<-release
		require.NoError(t, contrib.Renew(s))
		require.NoError(t, s.Save())
	})
	e.engine.GET("/logout", func(c *gin.Context) {
		s := ginsessions.Default(c)
		s.Options(ginsessions.Options{MaxAge: -1})
		require.NoError(t, s.Save())
	})
	e.engine.GET("/me", func(c *gin.Context) { c.String(200, "%v", ginsessions.Default(c).Get("cart")) })
	id := contribCookie(t, e.do("/cart", ""), contribName).Value
	done := make(chan string)
	go func() {
		rec := e.do("/slow-renew", id)
		if ck := contribCookie(t, rec, contribName); ck != nil {
			done <- ck.Value
			return
		}
		done <- ""
	}()
	<-loaded
	e.do("/logout", id)
	close(release)
	got := <-done
	assert.Equal(t, "<nil>", e.do("/me", id).Body.String(), "the logged-out ID stays dead")
	if got != "" {
		assert.Equal(t, "<nil>", e.do("/me", got).Body.String(), "the renewal did not bring the session back")
	}
}

func TestContribRenewRefusesForeignSessions(t *testing.T) {
	assert.Error(t, contrib.Renew(nil))
}
