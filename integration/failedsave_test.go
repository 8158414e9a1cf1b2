package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/testserver"
)

// failingSaves wraps a real driver (opened from a DSN) and fails the next
// n Saves without writing anything, as a store that drops a connection
// before the write reaches it does.
type failingSaves struct {
	sessions.Driver
	n atomic.Int32
}

var errInjected = errors.New("injected: the connection dropped before the write was sent")

func (f *failingSaves) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	if f.n.Add(-1) >= 0 {
		return false, errInjected
	}
	return f.Driver.Save(ctx, key, rec, v, ttl)
}

// TestFailedSaveStaysFailed checks that a request whose save failed is
// answered, reported and stored consistently: the client is told the
// session could not be saved, so the change must not be written behind
// that answer, and the error handler must hear about the failure and not
// about an unrelated one.
//
// Both subtests fail until the core is fixed: after the commit before the
// headers fails (and the response became a 500), the middleware's
// lateCommit still finds the unsaved change pending. For a session the
// request had loaded it saves it again after the fact, so the store holds
// what the 500 said was not saved; for any other it reports
// ErrResponseWritten ("the response headers were already sent, so the
// session cookie could not be set"), a second, misleading error.
func TestFailedSaveStaysFailed(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name+"/NotSavedBehindThe500", func(t *testing.T) {
			t.Parallel()
			dsn, _ := b.start(t)
			d := &failingSaves{Driver: openDriver(t, dsn)}
			a := newApp(t, "", func(c *sessions.Config) { c.Driver = d })
			id := newSessionVia(t, a, "user", "ada")

			d.n.Store(1) // the next Save fails
			r := sendCookie("PUT", a.Srv.URL+"/kv/cart?v=book", sessions.DefaultCookieName+"="+id)
			if r.Err != nil || r.Status != http.StatusInternalServerError || strings.Contains(r.Body, `"saved"`) {
				t.Fatalf("PUT with a failing save = %v; want the 500 of a failed save", r)
			}
			if v, ok := readVia(t, a, id, "cart"); ok {
				t.Errorf("the response said the session could not be saved, yet the store holds cart=%q: "+
					"the change was saved after the 500 was decided", v)
			}
			if errs := a.Errs.All(); len(errs) != 1 || !errors.Is(errs[0], errInjected) {
				t.Errorf("reported errors %v; want the one failed save", errs)
			}
		})
	}

	t.Run("NoSpuriousResponseWritten", func(t *testing.T) {
		t.Parallel()
		addr, proc := testserver.StartMemcached(t)
		a := newApp(t, "memcached://"+addr+"?timeout="+opTimeout.String(), nil)
		id := newSessionVia(t, a, "user", "ada")
		proc.Stop()
		for _, cookie := range []string{sessions.DefaultCookieName + "=" + id, ""} {
			before := len(a.Errs.All())
			r := sendCookie("PUT", a.Srv.URL+"/kv/cart?v=book", cookie)
			if r.Err != nil || r.Status != http.StatusInternalServerError {
				t.Fatalf("PUT with the store down = %v; want 500", r)
			}
			errs := a.Errs.All()[before:]
			if len(errs) == 0 {
				t.Errorf("a failed save was not reported")
			}
			for _, err := range errs {
				if errors.Is(err, sessions.ErrResponseWritten) {
					t.Errorf("with cookie %v: a failed save was also reported as %q; the handler wrote nothing before the commit",
						cookie != "", err)
				}
			}
		}
	})
}
