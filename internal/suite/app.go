package suite

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
)

// Log is a list that concurrent goroutines append to.
type Log[T any] struct {
	mu    sync.Mutex
	items []T
}

// Add appends x.
func (l *Log[T]) Add(x T) {
	l.mu.Lock()
	l.items = append(l.items, x)
	l.mu.Unlock()
}

// All returns a copy of what was added so far, in order.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

// ErrorLog collects every error a Manager's ErrorHandler reported.
type ErrorLog = Log[error]

// NewApp builds the Env every app-under-test helper starts from: a Gin
// engine whose middleware is a Manager on d, closed when the test ends,
// whose ErrorHandler records each error in Errs and, while there is room,
// in Errors. configure may change the Config before NewManager (it may
// set DSN instead of a nil d, or replace ErrorHandler). Count and Raw are
// left unset; NewEnv fills them.
func NewApp(t *testing.T, d sessions.Driver, configure ...func(*sessions.Config)) *Env {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := &Env{T: t, Engine: gin.New(), Errors: make(chan error, 1024), Errs: &ErrorLog{}}
	cfg := sessions.DefaultConfig()
	cfg.Driver = d
	cfg.ErrorHandler = func(_ *gin.Context, err error) { e.Record(err) }
	for _, f := range configure {
		if f != nil {
			f(&cfg)
		}
	}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err, "NewManager (DSN %s)", sessions.RedactDSN(cfg.DSN))
	t.Cleanup(func() { _ = m.Close() })
	e.M = m
	e.Engine.Use(m.Handler())
	return e
}

// Record reports err as the Env's ErrorHandler does: into Errs, and into
// Errors unless it is full.
func (e *Env) Record(err error) {
	e.Errs.Add(err)
	select {
	case e.Errors <- err:
	default:
	}
}

// Serve serves req through the engine and returns the recorded response.
func (e *Env) Serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.Engine.ServeHTTP(notifyingRecorder{rec}, req)
	return rec
}

// Snapshot loads session id outside a request, failing t on a store
// error; nil if the store holds no usable session.
func (e *Env) Snapshot(t testing.TB, id string) *sessions.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := e.M.Snapshot(ctx, id)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return snap
}

// WaitUntil polls check every 20ms until it reports true or within
// passes, and reports whether check succeeded.
func WaitUntil(within time.Duration, check func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
