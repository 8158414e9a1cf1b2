package sessions_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// writerApp returns a Manager over memory:// and an engine behind its
// middleware.
func writerApp(t *testing.T) (*sessions.Manager, *gin.Engine) {
	gin.SetMode(gin.TestMode)
	m, err := sessions.NewManager(sessions.DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	r.Use(m.Handler())
	return m, r
}

// TestWriterUnwrapsToTheConnection: behind the middleware,
// http.NewResponseController reaches the deadlines of the real connection
// (a real server, not a recorder), and its Flush still commits the session
// first, so the cookie goes out with the flushed headers.
func TestWriterUnwrapsToTheConnection(t *testing.T) {
	m, r := writerApp(t)
	r.GET("/deadline", func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		errW := rc.SetWriteDeadline(time.Now().Add(time.Minute))
		errR := rc.SetReadDeadline(time.Now().Add(time.Minute))
		c.String(200, "write=%v read=%v", errW, errR)
	})
	r.GET("/flush", func(c *gin.Context) {
		sessions.Set(c, "n", 1)
		c.Status(200)
		if err := http.NewResponseController(c.Writer).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		_, _ = c.Writer.WriteString("streamed")
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	resp, err := http.Get(srv.URL + "/deadline")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "write=<nil> read=<nil>", string(body), "deadlines reach the connection through Unwrap")

	resp, err = http.Get(srv.URL + "/flush")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Len(t, resp.Cookies(), 1, "a Flush through a ResponseController commits the session before the headers go out")
	snap, err := m.Snapshot(t.Context(), resp.Cookies()[0].Value)
	require.NoError(t, err)
	require.NotNil(t, snap)
	n, ok := sessions.SnapshotValue[int](snap, "n")
	assert.True(t, ok)
	assert.Equal(t, 1, n)
}

// TestWriterHijackCommitsFirst: a Hijack through a ResponseController
// (websockets) saves the session before the connection is handed over.
func TestWriterHijackCommitsFirst(t *testing.T) {
	m, r := writerApp(t)
	var id string
	r.GET("/ws", func(c *gin.Context) {
		sessions.Set(c, "ws", true)
		id = sessions.ID(c)
		conn, rw, err := http.NewResponseController(c.Writer).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = rw.Flush()
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/ws")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.NotEmpty(t, id)
	snap, err := m.Snapshot(t.Context(), id)
	require.NoError(t, err)
	require.NotNil(t, snap, "the session was saved before the hijack")
}
