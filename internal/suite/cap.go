package suite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// perUserCap checks that a user's sessions are capped by ending the least
// recently used ones, never by forgetting them: after a flood of logins,
// RevokeUser still ends every session the user holds.
func perUserCap(t *testing.T, backend Backend) {
	ctx := context.Background()
	t.Run("CapEndsTheOldestOfAFloodOfLogins", func(t *testing.T) {
		open := backend(t)
		a := newApp(t, open())
		const logins = 1100
		cookies := make([]string, 0, logins)
		for range logins {
			cookies = append(cookies, a.login("ada", "UA"))
		}
		infos, err := a.m.UserSessions(ctx, "ada")
		require.NoError(t, err)
		assert.Len(t, infos, sessions.DefaultMaxSessionsPerUser, "the cap holds")
		assert.Equal(t, "", a.whoami(cookies[0]), "the first session was ended on the server, not forgotten")
		assert.Equal(t, "ada", a.whoami(cookies[logins-1]), "the newest session lives")
		alive := 0
		for _, c := range cookies {
			if a.whoami(c) == "ada" {
				alive++
			}
		}
		assert.Equal(t, sessions.DefaultMaxSessionsPerUser, alive, "every session over the cap was ended")

		n, err := a.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, sessions.DefaultMaxSessionsPerUser, n)
		for _, c := range cookies {
			require.Equal(t, "", a.whoami(c), "RevokeUser reaches every session, whatever the history of logins")
		}
	})

	t.Run("WithoutACapNothingIsForgotten", func(t *testing.T) {
		open := backend(t)
		a := newApp(t, open(), func(c *sessions.Config) { c.MaxSessionsPerUser = -1 })
		const logins = 1100
		var cookies []string
		refused := 0
		for range logins {
			rec := a.do("POST", "/login/ada", "", "UA")
			if rec.Code != 200 {
				// A driver with a bounded index refuses the login past
				// MaxUserEntries, loudly; it never forgets an earlier one.
				require.Equal(t, 500, rec.Code, rec.Body.String())
				refused++
				continue
			}
			cookies = append(cookies, rec.Body.String())
		}
		assert.GreaterOrEqual(t, len(cookies), sessions.MaxUserEntries, "no driver refuses below the bound")
		if refused > 0 {
			assert.Equal(t, sessions.MaxUserEntries, len(cookies), "a bounded index refuses only past the bound")
		}
		n, err := a.m.RevokeUser(ctx, "ada")
		require.NoError(t, err)
		assert.Equal(t, len(cookies), n, "RevokeUser ends every session that was ever let in")
		for _, c := range cookies {
			require.Equal(t, "", a.whoami(c))
		}
	})

	t.Run("CapKeepsTheActiveSession", func(t *testing.T) {
		open := backend(t)
		a := newApp(t, open(), func(c *sessions.Config) { c.MaxSessionsPerUser = 2 })
		first := a.login("ada", "A")
		second := a.login("ada", "B")
		third := a.login("ada", "C")
		assert.Equal(t, "", a.whoami(first), "the least recently used session goes")
		assert.Equal(t, "ada", a.whoami(second))
		assert.Equal(t, "ada", a.whoami(third))
		st := a.m.Stats()
		assert.Equal(t, uint64(1), st.Revocations, "the ended session is counted")
	})
}
