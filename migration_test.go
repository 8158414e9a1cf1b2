package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// moveFileDSN returns the DSN of a fresh, empty file store.
func moveFileDSN(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

// moveOpen opens dsn through the registry and closes it at the end.
func moveOpen(t *testing.T, dsn string) sessions.Driver {
	t.Helper()
	d, err := sessions.Open(dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// moveManager builds a Manager over dsn (moving from prev if not ""),
// logging nowhere; mutate may change the Config.
func moveManager(t *testing.T, dsn, prev string, mutate func(*sessions.Config)) *sessions.Manager {
	t.Helper()
	cfg := sessions.DefaultConfig()
	cfg.DSN, cfg.PreviousDSN = dsn, prev
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// moveEngine serves m's middleware with /set/:v, /get, /logout and
// /login/:user.
func moveEngine(m *sessions.Manager) *gin.Engine {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/set/:v", func(c *gin.Context) { sessions.Set(c, "v", c.Param("v")); c.Status(204) })
	e.GET("/get", func(c *gin.Context) { c.String(200, sessions.GetOr(c, "v", "")) })
	e.GET("/logout", func(c *gin.Context) {
		if err := sessions.Destroy(c); err != nil {
			c.Status(500)
			return
		}
		c.Status(204)
	})
	e.GET("/login/:user", func(c *gin.Context) {
		sessions.Set(c, "v", "user "+c.Param("user"))
		if err := sessions.SetUser(c, c.Param("user")); err != nil {
			c.Status(500)
			return
		}
		c.Status(204)
	})
	return e
}

// moveServe runs one request with the session cookie id (if any) and
// returns the response and the session cookie it set (or id).
func moveServe(t *testing.T, e *gin.Engine, path, id string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if id != "" {
		req.AddCookie(&http.Cookie{Name: sessions.DefaultCookieName, Value: id})
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	require.Less(t, rec.Code, 300, "GET %s: %d %s", path, rec.Code, rec.Body.String())
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == sessions.DefaultCookieName {
			id = c.Value
		}
	}
	return rec, id
}

// moveSeed creates n sessions through e, every fifth one logged in as
// "user-<i>"; it returns their IDs.
func moveSeed(t *testing.T, e *gin.Engine, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		path := fmt.Sprintf("/set/%d", i)
		if i%5 == 0 {
			path = fmt.Sprintf("/login/user-%d", i)
		}
		_, ids[i] = moveServe(t, e, path, "")
		require.NotEmpty(t, ids[i])
	}
	return ids
}

func moveWant(i int) string {
	if i%5 == 0 {
		return fmt.Sprintf("user user-%d", i)
	}
	return fmt.Sprint(i)
}

// moveCount counts the sessions of the store at dsn.
func moveCount(t *testing.T, dsn string) int {
	t.Helper()
	n, err := sessions.CountSessions(context.Background(), moveOpen(t, dsn))
	require.NoError(t, err)
	return n
}

func TestMovePreviousMovesEverything(t *testing.T) {
	ctx := context.Background()
	oldDSN, newDSN := moveFileDSN(t), moveFileDSN(t)
	// The new configuration has another idle lifetime: a move that reset
	// the lifetime instead of carrying it over would show by minutes.
	oldM := moveManager(t, oldDSN, "", func(c *sessions.Config) { c.AbsoluteLifetime, c.Lifetime = time.Hour, 10*time.Minute })
	ids := moveSeed(t, moveEngine(oldM), 30)
	before := make([]*sessions.Snapshot, len(ids))
	for i, id := range ids {
		s, err := oldM.Snapshot(ctx, id)
		require.NoError(t, err)
		require.NotNil(t, s)
		before[i] = s
	}
	tool := moveManager(t, newDSN, oldDSN, func(c *sessions.Config) { c.AbsoluteLifetime, c.Lifetime = time.Hour, 20*time.Minute })
	var reports []sessions.MoveProgress
	stats, err := tool.MovePrevious(ctx, func(p sessions.MoveProgress) { reports = append(reports, p) })
	require.NoError(t, err)
	assert.Equal(t, 30, stats.Moved)
	assert.Zero(t, stats.Kept+stats.Skipped+stats.Failed+stats.Unreadable)
	assert.Equal(t, 0, stats.Remaining)
	assert.Positive(t, stats.Duration)

	require.NotEmpty(t, reports)
	last := reports[len(reports)-1]
	assert.Equal(t, 30, last.Total, "the counting pass gives the total")
	assert.Equal(t, 30, last.Done)
	assert.Equal(t, 30, last.Moved)
	for i := 1; i < len(reports); i++ {
		assert.GreaterOrEqual(t, reports[i].Done, reports[i-1].Done, "progress never goes back")
	}

	assert.Equal(t, 0, moveCount(t, oldDSN), "the previous backend is empty")
	assert.Equal(t, 30, moveCount(t, newDSN))

	// After the move the previous DSN can go: everything is in the new one,
	// with its lifetime, creation time and user index.
	after := moveManager(t, newDSN, "", func(c *sessions.Config) { c.Lifetime = 20 * time.Minute })
	e := moveEngine(after)
	var drift time.Duration
	defer func() { t.Logf("largest deadline drift: %v", drift) }()
	for i, id := range ids {
		s, err := after.Snapshot(ctx, id)
		require.NoError(t, err)
		require.NotNil(t, s, "session %d", i)
		assert.True(t, before[i].Created.Equal(s.Created), "creation time (absolute deadline) carries over")
		// The deadline moves by the time between reading the old expiry
		// and writing the new copy (milliseconds; more under -race).
		assert.WithinDuration(t, before[i].Expires, s.Expires, time.Second, "the remaining lifetime carries over")
		drift = max(drift, s.Expires.Sub(before[i].Expires))
		rec, _ := moveServe(t, e, "/get", id)
		assert.Equal(t, moveWant(i), rec.Body.String())
		if i%5 == 0 {
			list, err := after.UserSessions(ctx, fmt.Sprintf("user-%d", i))
			require.NoError(t, err)
			require.Len(t, list, 1, "the user index of the new backend lists the session")
			assert.Equal(t, core.StoreKey(id), list[0].IDHash)
		}
	}

	// Nothing left: a second run moves nothing and succeeds.
	stats, err = tool.MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, sessions.MoveStats{Remaining: 0, Duration: stats.Duration}, stats)
}

func TestMovePreviousKeepsTheCurrentCopy(t *testing.T) {
	ctx := context.Background()
	oldDSN, newDSN := moveFileDSN(t), moveFileDSN(t)
	oldD := moveOpen(t, oldDSN)
	_, id := moveServe(t, moveEngine(moveManager(t, oldDSN, "", nil)), "/set/old", "")
	key := core.StoreKey(id)
	stale, _, exp, err := oldD.Load(ctx, key)
	require.NoError(t, err)
	require.NotNil(t, stale)

	// A request moves it and writes to the current copy; then a stale copy
	// reappears in the previous backend (an old instance wrote it back).
	app := moveManager(t, newDSN, oldDSN, nil)
	moveServe(t, moveEngine(app), "/set/new", id)
	ok, err := oldD.Save(ctx, key, stale, 0, time.Until(exp))
	require.NoError(t, err)
	require.True(t, ok)

	stats, err := app.MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, stats.Kept)
	assert.Zero(t, stats.Moved)
	assert.Equal(t, 0, moveCount(t, oldDSN), "the old copy is deleted")
	rec, _ := moveServe(t, moveEngine(moveManager(t, newDSN, "", nil)), "/get", id)
	assert.Equal(t, "new", rec.Body.String(), "the current copy wins")
}

func TestMovePreviousEncryptedRecords(t *testing.T) {
	ctx := context.Background()
	oldDSN, newDSN := moveFileDSN(t), moveFileDSN(t)
	key := newKey(t)
	withKey := func(c *sessions.Config) { c.EncryptionKeys = [][]byte{key} }
	ids := moveSeed(t, moveEngine(moveManager(t, oldDSN, "", withKey)), 10)

	// Without the application's keys nothing opens: nothing moves, and the
	// records stay where the application can still move them itself.
	stats, err := moveManager(t, newDSN, oldDSN, nil).MovePrevious(ctx, nil)
	require.Error(t, err)
	assert.Equal(t, 10, stats.Failed)
	assert.Equal(t, 10, stats.Unreadable)
	assert.Equal(t, 10, stats.Remaining)
	assert.Contains(t, err.Error(), "SESSION_ENCRYPTION_KEYS")
	for _, id := range ids {
		assert.NotContains(t, err.Error(), id, "errors never hold a raw ID")
	}
	assert.Equal(t, 10, moveCount(t, oldDSN))
	assert.Equal(t, 0, moveCount(t, newDSN))

	// With them, everything moves and is re-indexed.
	stats, err = moveManager(t, newDSN, oldDSN, withKey).MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 10, stats.Moved)
	after := moveManager(t, newDSN, "", withKey)
	list, err := after.UserSessions(ctx, "user-5")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, core.StoreKey(ids[5]), list[0].IDHash)
	rec, _ := moveServe(t, moveEngine(after), "/get", ids[3])
	assert.Equal(t, "3", rec.Body.String())
}

func TestMovePreviousPastAbsoluteLifetime(t *testing.T) {
	ctx := context.Background()
	oldDSN, newDSN := moveFileDSN(t), moveFileDSN(t)
	// The sessions were created without an absolute lifetime; the
	// configuration now has one, which they have passed.
	moveSeed(t, moveEngine(moveManager(t, oldDSN, "", nil)), 3)
	time.Sleep(80 * time.Millisecond)
	short := func(c *sessions.Config) { c.AbsoluteLifetime = 50 * time.Millisecond }
	stats, err := moveManager(t, newDSN, oldDSN, short).MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, stats.Skipped, "dead sessions are not moved")
	assert.Equal(t, 0, moveCount(t, oldDSN), "and are deleted, as a request would delete them")
	assert.Equal(t, 0, moveCount(t, newDSN))
}

// moveNoScan hides every method but the Driver contract, as memcached's
// driver has no Scan.
type moveNoScan struct{ sessions.Driver }

// moveBroken fails every Load.
type moveBroken struct{ sessions.Driver }

func (moveBroken) Load(context.Context, string) ([]byte, uint64, time.Time, error) {
	return nil, 0, time.Time{}, errors.New("connection refused")
}

func TestMovePreviousRefusals(t *testing.T) {
	ctx := context.Background()
	_, err := moveManager(t, moveFileDSN(t), "", nil).MovePrevious(ctx, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no previous backend")

	// memory:// as a previous backend is refused when the Manager is built:
	// a new in-process store is empty, the old one ended with its process.
	_, err = sessions.NewManager(sessions.Config{DSN: moveFileDSN(t), PreviousDSN: "memory://"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "memory://")
	assert.Contains(t, err.Error(), "in-process")

	mem := memory.New(memory.Options{})
	defer mem.Close(ctx)
	_, err = moveManager(t, moveFileDSN(t), "", func(c *sessions.Config) { c.PreviousDriver = moveNoScan{mem} }).MovePrevious(ctx, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot enumerate")
	assert.Contains(t, err.Error(), "moveNoScan")

	// A memory driver the application hands over can be moved from.
	oldM := moveManager(t, "", "", func(c *sessions.Config) { c.Driver = mem })
	moveSeed(t, moveEngine(oldM), 4)
	newDSN := moveFileDSN(t)
	stats, err := moveManager(t, newDSN, "", func(c *sessions.Config) { c.PreviousDriver = mem }).MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 4, stats.Moved)
	assert.Equal(t, 4, moveCount(t, newDSN))
}

func TestMovePreviousStopsOnFailuresInARow(t *testing.T) {
	ctx := context.Background()
	oldDSN := moveFileDSN(t)
	oldD := moveOpen(t, oldDSN)
	for i := range 100 {
		ok, err := oldD.Save(ctx, fmt.Sprintf("k%03d", i), []byte("x"), 0, time.Hour)
		require.NoError(t, err)
		require.True(t, ok)
	}
	cur := memory.New(memory.Options{})
	defer cur.Close(ctx)
	m := moveManager(t, "", oldDSN, func(c *sessions.Config) { c.Driver = moveBroken{cur} })
	stats, err := m.MovePrevious(ctx, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in a row")
	assert.Contains(t, err.Error(), "connection refused")
	assert.Less(t, stats.Failed, 100, "it stopped early")
	assert.GreaterOrEqual(t, stats.Failed, 64)
	assert.Equal(t, 100, stats.Remaining, "nothing was lost")
}

func TestMovePreviousInterrupted(t *testing.T) {
	oldDSN := moveFileDSN(t)
	moveSeed(t, moveEngine(moveManager(t, oldDSN, "", nil)), 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := moveManager(t, moveFileDSN(t), oldDSN, nil).MovePrevious(ctx, nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, moveCount(t, oldDSN))
}

func TestCountAndPurgeSessions(t *testing.T) {
	ctx := context.Background()
	dsn := moveFileDSN(t)
	moveSeed(t, moveEngine(moveManager(t, dsn, "", nil)), 7)
	d := moveOpen(t, dsn)
	n, err := sessions.CountSessions(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	n, err = sessions.PurgeSessions(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	n, err = sessions.CountSessions(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, 0, n)

	for _, f := range []func(context.Context, sessions.Driver) (int, error){sessions.CountSessions, sessions.PurgeSessions} {
		_, err = f(ctx, moveNoScan{d})
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "cannot enumerate"), err.Error())
	}
}

func TestPreviousBackendMove(t *testing.T) {
	oldDSN, newDSN := fileDSN(t), fileDSN(t)
	withAbsolute := func(c *sessions.Config) { c.AbsoluteLifetime = 24 * time.Hour }
	oldM := moveManager(t, oldDSN, "", withAbsolute)
	_, id := moveServe(t, moveEngine(oldM), "/set/kept", "")
	require.NotEmpty(t, id)
	before, err := oldM.Snapshot(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, before)
	time.Sleep(20 * time.Millisecond)

	newM := moveManager(t, newDSN, oldDSN, withAbsolute)
	newApp := moveEngine(newM)
	rec, _ := moveServe(t, newApp, "/get", id)
	assert.Equal(t, "kept", rec.Body.String(), "a session of the previous backend is read after the switch")

	ctx := context.Background()
	cur, err := sessions.Open(newDSN)
	require.NoError(t, err)
	defer cur.Close(ctx)
	rec2, _, exp, err := cur.Load(ctx, core.StoreKey(id))
	require.NoError(t, err)
	require.NotNil(t, rec2, "it was copied to the current backend at once")
	assert.WithinDuration(t, before.Expires, exp, 50*time.Millisecond, "the remaining lifetime carries over exactly")
	old, err := oldM.Snapshot(ctx, id)
	require.NoError(t, err)
	assert.Nil(t, old, "and deleted from the previous backend")
	after, err := newM.Snapshot(ctx, id)
	require.NoError(t, err)
	assert.True(t, before.Created.Equal(after.Created), "the absolute deadline carries over (same creation time)")

	// New sessions go only to the current backend.
	_, fresh := moveServe(t, newApp, "/set/fresh", "")
	s, err := oldM.Snapshot(ctx, fresh)
	require.NoError(t, err)
	assert.Nil(t, s)

	// Strict mode holds across both: an ID neither knows is not adopted.
	unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	_, got := moveServe(t, newApp, "/set/x", unknown)
	assert.NotEqual(t, unknown, got)
}

func TestPreviousBackendLogoutCannotBeUndone(t *testing.T) {
	oldDSN, newDSN := fileDSN(t), fileDSN(t)
	oldM := moveManager(t, oldDSN, "", nil)
	_, id := moveServe(t, moveEngine(oldM), "/set/secret", "")
	// The logout happens on the new instance before the session was ever
	// read there: the old copy must go too.
	newApp := moveEngine(moveManager(t, newDSN, oldDSN, nil))
	rec, _ := moveServe(t, newApp, "/logout", id)
	require.Equal(t, 204, rec.Code)
	rec, _ = moveServe(t, newApp, "/get", id)
	assert.Equal(t, "", rec.Body.String(), "the logout holds")
	s, err := oldM.Snapshot(context.Background(), id)
	require.NoError(t, err)
	assert.Nil(t, s, "the previous backend's copy is deleted too")
}
