package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
)

func TestRegisterPanics(t *testing.T) {
	f := func(*url.URL) (sessions.Driver, error) { return memory.New(memory.Options{}), nil }
	assert.PanicsWithValue(t, "sessions: Register with an empty scheme", func() { sessions.Register("", f) })
	assert.Panics(t, func() { sessions.Register("nilfactory", nil) })
	assert.PanicsWithValue(t, "sessions: Register called twice for scheme memory", func() { sessions.Register("memory", f) })
	assert.Panics(t, func() { sessions.Register("MEMORY", f) }, "schemes are case-insensitive")
}

func TestSchemesSorted(t *testing.T) {
	s := sessions.Schemes()
	assert.IsIncreasing(t, s)
}

func TestOpenErrors(t *testing.T) {
	_, err := sessions.Open("nosuch://host")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"nosuch"`, "names the unknown scheme")
	assert.Contains(t, err.Error(), "file, memcached, memory", "lists the registered schemes")

	for _, dsn := range []string{
		"redis://user:hunter2@host:6379/%zz",
		"redis://:hunter2@ho st:6379",
		"::hunter2@",
		"nosuch://admin:hunter2@host/",
	} {
		_, err := sessions.Open(dsn)
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), "hunter2", "the password leaked in %q", err)
	}
	_, err = sessions.Open("redis://user:hunter2@host:6379/%zz")
	assert.Contains(t, err.Error(), "malformed DSN")
	assert.Contains(t, err.Error(), "xxxxx", "quotes the DSN with the password masked")

	_, err = sessions.Open("memory://?max_entries=lots")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_entries", "a driver's option error reaches the caller")
}

func TestRedactDSN(t *testing.T) {
	cases := map[string]string{
		"redis://u:pw@h:1/0":          "redis://u:xxxxx@h:1/0",
		"redis://u:p%zzw@h:1/0":       "redis://u:xxxxx@h:1/0",
		"redis://h:1/0":               "redis://h:1/0",
		"memcached://a:1,b:2":         "memcached://a:1,b:2",
		"redis://u:pw@h:1/%zz?x=1":    "redis://u:xxxxx@h:1/%zz?x=1",
		"redis://tokenonly@h bad:1/0": "redis://xxxxx@h bad:1/0",
		"redis://user@h:1/0":          "redis://user@h:1/0",
		"memory://":                   "memory://",
		"redis://u:pa/ss@h:1/0":       "redis://u:xxxxx@h:1/0",
		"redis://u:p@ss@h:1":          "redis://u:xxxxx@h:1",
		"redis://h:1?master_set=m&sentinel_password=hunter2&addr=h2:1": "redis://h:1?master_set=m&sentinel_password=xxxxx&addr=h2:1",
	}
	for in, want := range cases {
		assert.Equal(t, want, sessions.RedactDSN(in), in)
	}
}

// countingFactory records that FromEnv reached a custom scheme.
type countingDriver struct {
	*memory.Driver
	saves atomic.Int64
}

func (d *countingDriver) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	d.saves.Add(1)
	return d.Driver.Save(ctx, key, rec, v, ttl)
}

var (
	registerMine sync.Once
	mine         *countingDriver
	mineURL      *url.URL
)

func TestCustomSchemeThroughFromEnv(t *testing.T) {
	registerMine.Do(func() {
		sessions.Register("mine", func(u *url.URL) (sessions.Driver, error) {
			mineURL = u
			mine = &countingDriver{Driver: memory.New(memory.Options{})}
			return mine, nil
		})
	})
	t.Setenv("SESSION_DSN", "mine://anything/at/all?opt=1")
	t.Setenv("SESSION_COOKIE_NAME", "mine_sid")
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(sessions.FromEnv())
	r.GET("/inc", func(c *gin.Context) {
		n := sessions.GetOr(c, "n", 0) + 1
		sessions.Set(c, "n", n)
		c.String(200, "%d", n)
	})
	require.NotNil(t, mine, "FromEnv opened the custom scheme's factory")
	assert.Equal(t, "1", mineURL.Query().Get("opt"), "the factory receives the parsed DSN")

	var cookie string
	for i := 1; i <= 3; i++ {
		req := httptest.NewRequest("GET", "/inc", nil)
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: "mine_sid", Value: cookie})
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		require.Equal(t, itoa(i), rec.Body.String())
		for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
			if c.Name == "mine_sid" {
				cookie = c.Value
			}
		}
	}
	assert.Equal(t, int64(3), mine.saves.Load(), "the custom driver stored every change")
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestOpenOptInSchemeNamesTheImport: the SQL drivers register themselves
// when imported; without the import, Open of their schemes says which
// import to add (this test binary links none of them).
func TestOpenOptInSchemeNamesTheImport(t *testing.T) {
	for dsn, pkg := range map[string]string{
		"postgres://u:s3cret@db/app":   "github.com/ginkit/sessions/drivers/postgres",
		"postgresql://db/app":          "github.com/ginkit/sessions/drivers/postgres",
		"mysql://u:s3cret@db:3306/app": "github.com/ginkit/sessions/drivers/mysql",
		"mariadb://db/app":             "github.com/ginkit/sessions/drivers/mysql",
		"sqlite:///var/lib/app/s.db":   "github.com/ginkit/sessions/drivers/sqlite",
	} {
		_, err := sessions.Open(dsn)
		if err == nil || !strings.Contains(err.Error(), `import _ "`+pkg+`"`) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%s) = %v; want an error naming the import of %s, without the password", sessions.RedactDSN(dsn), err, pkg)
		}
	}
}
