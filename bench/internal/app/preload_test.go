package app

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/drivers/memory"
)

// scaleServer builds a ginkit server of store in the scale mode, as the
// serve child does.
func scaleServer(t *testing.T, store string, capacity int) (*Scale, http.Handler) {
	t.Helper()
	spec := Spec{Lib: "ginkit", Store: store, Dir: t.TempDir()}
	sc, err := NewScale(&spec, capacity)
	if err != nil {
		t.Fatal(err)
	}
	h, cleanup, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(); sc.Close() })
	if _, err := sc.Handler(h); err != nil {
		t.Fatal(err)
	}
	return sc, h
}

// Preloaded sessions are real sessions of the measured engine: every
// cookie is distinct and /read finds the values /write stored under it,
// and the memory store holds them all (its max_entries raised past the
// default when asked).
func TestPreloadMakesWhatWriteMakes(t *testing.T) {
	const n = 300
	// The bound is split over 64 shards: room for a hundred times as many
	// keeps every shard below its share, whatever the keys' spread.
	sc, h := scaleServer(t, "memory", 100*n)
	var out bytes.Buffer
	if _, err := sc.Preload(context.Background(), n, 0, "", 8, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != n {
		t.Fatalf("%d cookies, want %d", len(lines), n)
	}
	seen := map[string]bool{}
	for _, c := range lines {
		if !strings.HasPrefix(c, CookieName+"=") || seen[c] {
			t.Fatalf("cookie %q: not a session cookie, or twice", c)
		}
		seen[c] = true
		req := httptest.NewRequest(http.MethodGet, "/read", nil)
		req.Header.Set("Cookie", c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Body.String(); got != "1 Ada Lovelace" {
			t.Fatalf("/read with a preloaded cookie = %q, want %q", got, "1 Ada Lovelace")
		}
	}
	if st := sc.drv.(*memory.Driver).Stats(); st.Entries != n || st.Evictions != 0 {
		t.Errorf("the store holds %d records after %d evictions, want %d and 0", st.Entries, st.Evictions, n)
	}
	dsn, err := ScaleDSN(Spec{Lib: "ginkit", Store: "memory"}, 1_000_000)
	if err != nil || !strings.Contains(dsn, "max_entries=1000000") {
		t.Errorf("ScaleDSN = %q, %v: no max_entries=1000000", dsn, err)
	}
}

// The user operations see every session bound to the user, and
// RevokeUser ends them all.
func TestUserOps(t *testing.T) {
	sc, _ := scaleServer(t, "memory", 1000)
	u, err := sc.UserOps(context.Background(), 40, 2)
	if err != nil {
		t.Fatal(err)
	}
	if u.Listed != 40 || u.Revoked != 40 {
		t.Errorf("listed %d, revoked %d; want 40 and 40", u.Listed, u.Revoked)
	}
}

// A sweep removes the expired sessions only: the file driver's Sweep
// reports them, and the live ones still read back.
func TestSweepRemovesOnlyExpired(t *testing.T) {
	sc, h := scaleServer(t, "file", 100)
	var live bytes.Buffer
	if _, err := sc.Preload(context.Background(), 20, 0, "", 4, &live); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Preload(context.Background(), 10, time.Second, "", 4, nil); err != nil {
		t.Fatal(err)
	}
	res, err := sc.sweep(context.Background(), time.Now().Add(1500*time.Millisecond), 10)
	if err != nil {
		t.Fatal(err)
	}
	if res.How != "Sweep" || res.Removed != 10 {
		t.Errorf("sweep = %+v; want Sweep removing 10", res)
	}
	for _, c := range strings.Fields(live.String()) {
		req := httptest.NewRequest(http.MethodGet, "/read", nil)
		req.Header.Set("Cookie", c)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Body.String() != "1 Ada Lovelace" {
			t.Fatalf("a live session after the sweep reads %q", rec.Body.String())
		}
	}
}

func TestNewScaleRefusesOtherLibraries(t *testing.T) {
	if _, err := NewScale(&Spec{Lib: "scs", Store: "memstore"}, 10); err == nil {
		t.Error("NewScale of scs/memstore: no error")
	}
}
