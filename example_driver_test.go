package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// mapStore is a complete custom driver in a few lines: the required
// methods of sessions.Driver over a map. (TestMapStoreConformance checks
// it with package sessionstest, as a driver author would.)
type mapStore struct {
	mu      sync.Mutex
	recs    map[string]mapRecord
	counter uint64 // versions come from a counter, so they never repeat
	closed  bool
}

type mapRecord struct {
	rec     []byte
	version uint64
	expires time.Time
}

var errMapClosed = errors.New("mapstore: closed")

func newMapStore() *mapStore { return &mapStore{recs: map[string]mapRecord{}} }

// live returns the record under key unless it is missing or expired.
func (s *mapStore) live(key string) (mapRecord, bool) {
	r, ok := s.recs[key]
	return r, ok && time.Now().Before(r.expires)
}

func (s *mapStore) Load(_ context.Context, key string) ([]byte, uint64, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, time.Time{}, errMapClosed
	}
	r, ok := s.live(key)
	if !ok {
		return nil, 0, time.Time{}, nil // absence is not an error
	}
	return r.rec, r.version, r.expires, nil
}

func (s *mapStore) Save(_ context.Context, key string, rec []byte, version uint64, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, errMapClosed
	}
	if cur, ok := s.live(key); ok && cur.version != version || !ok && version != 0 {
		return false, nil // someone else wrote first: the core reloads and merges
	}
	s.counter++
	s.recs[key] = mapRecord{rec: rec, version: s.counter, expires: time.Now().Add(ttl)}
	return true, nil
}

func (s *mapStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errMapClosed
	}
	delete(s.recs, key)
	return nil
}

func (s *mapStore) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// A custom driver registered under a scheme of its own: SESSION_DSN=
// mapstore:// then selects it with no other change.
func Example_customDriver() {
	sessions.Register("mapstore", func(*url.URL) (sessions.Driver, error) { return newMapStore(), nil })

	m, err := sessions.NewManager(sessions.Config{DSN: "mapstore://"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/set", func(c *gin.Context) { sessions.Set(c, "lang", "fr"); c.Status(http.StatusNoContent) })
	r.GET("/get", func(c *gin.Context) { c.String(http.StatusOK, sessions.GetOr(c, "lang", "en")) })
	fmt.Println(body(do(r, "GET", "/get", do(r, "GET", "/set", nil))))
	// Output:
	// fr
}
