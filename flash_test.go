package sessions_test

import (
	"encoding/gob"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/contrib"
)

type flashNote struct{ Level string }

func init() { gob.Register(flashNote{}) }

// flashTypes prints each message as type:value.
func flashTypes(list []any) string {
	if list == nil {
		return "nil"
	}
	parts := make([]string, len(list))
	for i, v := range list {
		parts[i] = fmt.Sprintf("%T:%v", v, v)
	}
	return strings.Join(parts, ",")
}

func TestFlashesNative(t *testing.T) {
	for _, tc := range []struct {
		codec sessions.Codec
		want  string
	}{
		{sessions.JSONCodec{}, "string:saved,float64:2,map[string]interface {}:map[Level:info]"},
		{contrib.GobCodec{}, "string:saved,int:2,sessions_test.flashNote:{info}"},
	} {
		t.Run(fmt.Sprintf("%T", tc.codec), func(t *testing.T) {
			gin.SetMode(gin.TestMode)
			cfg := sessions.DefaultConfig()
			cfg.Codec = tc.codec
			m, err := sessions.NewManager(cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = m.Close() })
			r := gin.New()
			r.Use(m.Handler())
			r.GET("/add", func(c *gin.Context) {
				sessions.AddFlash(c, "saved")
				sessions.AddFlash(c, 2)
				sessions.AddFlash(c, flashNote{Level: "info"})
				sessions.AddFlash(c, "other list", "errors")
				c.Status(204)
			})
			r.GET("/read", func(c *gin.Context) {
				c.String(200, "%s|%s", flashTypes(sessions.Flashes(c)), flashTypes(sessions.Flashes(c, "errors")))
			})
			r.GET("/plain", func(c *gin.Context) {
				sessions.Set(c, sessions.FlashKey, "not a list")
				c.Status(204)
			})
			do := func(path, cookie string) *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", path, nil)
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: sessions.DefaultCookieName, Value: cookie})
				}
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				return rec
			}
			rec := do("/add", "")
			require.Equal(t, 204, rec.Code)
			var id string
			for _, c := range rec.Result().Cookies() {
				id = c.Value
			}
			require.NotEmpty(t, id)
			assert.Equal(t, tc.want+"|string:other list", do("/read", id).Body.String())
			assert.Equal(t, "nil|nil", do("/read", id).Body.String(), "reading flashes removes them")

			// A value under the flash key that is not a list reads as no
			// flashes and stays in place.
			do("/plain", id)
			assert.Equal(t, "nil|nil", do("/read", id).Body.String())
			snap, err := m.Snapshot(t.Context(), id)
			require.NoError(t, err)
			require.NotNil(t, snap)
			v, ok := sessions.SnapshotValue[string](snap, sessions.FlashKey)
			assert.True(t, ok)
			assert.Equal(t, "not a list", v)
		})
	}
}

func TestFlashesWithoutMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	sessions.AddFlash(c, "x")
	assert.Nil(t, sessions.Flashes(c))
	require.Len(t, c.Errors, 1)
	assert.ErrorIs(t, c.Errors[0].Err, sessions.ErrNoMiddleware)
}
