package sessions_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/core"
)

func newKey(t *testing.T) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func encryptedApp(t *testing.T, d sessions.Driver, keys ...[]byte) (*gin.Engine, *sessions.Manager) {
	cfg := sessions.DefaultConfig()
	cfg.Driver = d
	cfg.EncryptionKeys = keys
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/set", func(c *gin.Context) { sessions.Set(c, "card", "4111-1111-1111-1111"); c.Status(204) })
	e.GET("/get", func(c *gin.Context) { c.String(200, sessions.GetOr(c, "card", "")) })
	return e, m
}

// serve runs one GET with the session cookie (if any) through e.
func serve(e *gin.Engine, path, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessions.DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestEncryptionAtRest(t *testing.T) {
	d := memory.New(memory.Options{})
	defer d.Close(context.Background())
	k1, k2 := newKey(t), newKey(t)
	app1, _ := encryptedApp(t, d, k1)
	rec := serve(app1, "/set", "")
	var id string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		id = c.Value
	}
	raw, _, _, err := d.Load(context.Background(), core.StoreKey(id))
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte("4111")), "the record is not readable at rest")
	assert.Equal(t, "4111-1111-1111-1111", serve(app1, "/get", id).Body.String())

	// Rotation: the new key first, the old one still opens.
	rotated, _ := encryptedApp(t, d, k2, k1)
	assert.Equal(t, "4111-1111-1111-1111", serve(rotated, "/get", id).Body.String(), "keys rotate without logging anyone out")
	// A retired key: the record no longer opens, and is an absent session.
	retired, _ := encryptedApp(t, d, k2)
	assert.Equal(t, "", serve(retired, "/get", id).Body.String())

	// A record copied under another session's key fails to open.
	rec = serve(app1, "/set", "")
	var id2 string
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		id2 = c.Value
	}
	raw2, _, _, _ := d.Load(context.Background(), core.StoreKey(id2))
	victim := core.StoreKey(id2)
	other := "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA"
	_, err = d.Save(context.Background(), core.StoreKey(other), raw2, 0, time.Hour)
	require.NoError(t, err)
	_ = victim
	assert.Equal(t, "", serve(app1, "/get", other).Body.String(), "the store key is the associated data")

	// Tampering is an absent session, never a crash.
	_, ver, _, _ := d.Load(context.Background(), core.StoreKey(id2))
	bad := bytes.Clone(raw2)
	bad[len(bad)-1] ^= 1
	ok, err := d.Save(context.Background(), core.StoreKey(id2), bad, ver, time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 200, serve(app1, "/get", id2).Code)
	assert.Equal(t, "", serve(app1, "/get", id2).Body.String())
}

func TestEncryptionKeysFromEnv(t *testing.T) {
	clearSessionEnv(t)
	k := base64.StdEncoding.EncodeToString(newKey(t))
	k2 := base64.RawURLEncoding.EncodeToString(newKey(t))
	t.Setenv("SESSION_ENCRYPTION_KEYS", k+", "+k2)
	cfg, err := sessions.ConfigFromEnv()
	require.NoError(t, err)
	assert.Len(t, cfg.EncryptionKeys, 2)
	t.Setenv("SESSION_ENCRYPTION_KEYS", "c2hvcnQ=")
	_, err = sessions.ConfigFromEnv()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SESSION_ENCRYPTION_KEYS")
	assert.NotContains(t, err.Error(), "c2hvcnQ", "a key is never quoted in an error")
	_, err = sessions.NewManager(sessions.Config{EncryptionKeys: [][]byte{[]byte("short")}})
	assert.ErrorContains(t, err, "32")
}

func TestLimits(t *testing.T) {
	e, m := func() (*gin.Engine, *sessions.Manager) {
		cfg := sessions.DefaultConfig()
		cfg.MaxKeys = 3
		cfg.MaxRecordSize = 2048
		m, err := sessions.NewManager(cfg)
		require.NoError(t, err)
		gin.SetMode(gin.TestMode)
		e := gin.New()
		e.Use(m.Handler())
		return e, m
	}()
	defer m.Close()
	e.GET("/many", func(c *gin.Context) {
		for _, k := range []string{"a", "b", "c", "d"} {
			sessions.Set(c, k, 1)
		}
		c.JSON(200, gin.H{"ok": true})
	})
	e.GET("/big", func(c *gin.Context) {
		sessions.Set(c, "blob", string(make([]byte, 4096)))
		c.JSON(200, gin.H{"ok": true})
	})
	e.GET("/fine", func(c *gin.Context) { sessions.Set(c, "a", 1); c.Status(204) })
	for _, p := range []string{"/many", "/big"} {
		rec := serve(e, p, "")
		assert.Equal(t, 500, rec.Code, "%s: over the limit is an error, not a 2xx", p)
		assert.Empty(t, rec.Header().Values("Set-Cookie"), "%s: nothing was written", p)
	}
	assert.Equal(t, 204, serve(e, "/fine", "").Code)
}

// TestManagerOpenedLogHidesSecrets: the "manager opened" log line names
// both DSNs through RedactDSN, so a secret is hidden however its option
// is spelled (p%61ssword reaches the driver as "password"), and in the
// user information and the fragment. A custom scheme that accepts any
// option stands for a driver that takes secrets from the query.
func TestManagerOpenedLogHidesSecrets(t *testing.T) {
	registerAnyOption.Do(func() {
		sessions.Register("anyoption", func(*url.URL) (sessions.Driver, error) {
			return memory.New(memory.Options{SweepInterval: -1}), nil
		})
	})
	secrets := []string{"Pw1Secret", "Pw2Secret", "Tok3Secret", "Frag4Secret", "Prev5Secret"}
	var log bytes.Buffer
	cfg := sessions.DefaultConfig()
	cfg.DSN = "anyoption://app:Pw1Secret@db/app?p%61ssword=Pw2Secret&%54oken=Tok3Secret#Frag4Secret"
	cfg.PreviousDSN = "anyoption://db/old?Client_Secret=Prev5Secret"
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	require.NoError(t, m.Close())
	line := log.String()
	require.Contains(t, line, "manager opened")
	require.Contains(t, line, "p%61ssword=xxxxx", "the DSN is shown, redacted")
	for _, s := range secrets {
		assert.NotContains(t, line, s)
	}
}

var registerAnyOption sync.Once

// The Manager hands its engine over only for the Access that this
// module's packages make (core.EngineOf does, for package contrib): a zero
// Access, which code outside the module can produce with a generic
// function, gets nil, and so does a nil Manager.
func TestManagerEngineNeedsModuleAccess(t *testing.T) {
	m, err := sessions.NewManager(sessions.Config{Driver: memory.New(memory.Options{})})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })

	eng := core.EngineOf(m)
	require.NotNil(t, eng)
	assert.Same(t, eng, m.Engine(core.ModuleAccess()))
	assert.Nil(t, m.Engine(core.Access{}), "a zero Access must not reach the engine")
	assert.Nil(t, (*sessions.Manager)(nil).Engine(core.ModuleAccess()))
}

// TestNewManagerFailureLeavesGivenDriversOpen: a Manager that fails to
// start closes only what it opened itself; a Driver the application
// handed over stays the application's, open and usable.
func TestNewManagerFailureLeavesGivenDriversOpen(t *testing.T) {
	for name, cfg := range map[string]func(d sessions.Driver) sessions.Config{
		"bad previous DSN": func(d sessions.Driver) sessions.Config {
			return sessions.Config{Driver: d, PreviousDSN: "nosuchscheme://x"}
		},
		"bad encryption key": func(d sessions.Driver) sessions.Config {
			return sessions.Config{Driver: d, EncryptionKeys: [][]byte{[]byte("short")}}
		},
		"bad key with a given previous driver": func(d sessions.Driver) sessions.Config {
			return sessions.Config{Driver: memory.New(memory.Options{}), PreviousDriver: d, EncryptionKeys: [][]byte{[]byte("short")}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := memory.New(memory.Options{})
			defer d.Close(context.Background())
			if _, err := sessions.NewManager(cfg(d)); err == nil {
				t.Fatal("NewManager accepted a bad config")
			}
			if _, err := d.Save(context.Background(), "k", []byte("r"), 0, time.Minute); err != nil {
				t.Fatalf("the application's driver was closed by the failed NewManager: %v", err)
			}
		})
	}
}
