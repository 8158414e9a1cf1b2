package integration

import (
	"fmt"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/ginkit/sessions/internal/core"
	"github.com/ginkit/sessions/internal/testserver"
)

// TestMemcachedPool spreads sessions over two memcached servers named in
// one DSN: about a hundred sessions made through the middleware land on
// both nodes (each on exactly one, as plain memcached clients per node
// show), and every one of them reads back through the middleware.
func TestMemcachedPool(t *testing.T) {
	t.Parallel()
	addr1, _ := testserver.StartMemcached(t)
	addr2, _ := testserver.StartMemcached(t)
	a := newApp(t, memcachedDSN(addr1, addr2), nil)

	const n = 100
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newSessionVia(t, a, "n", fmt.Sprint(i))
	}

	nodes := map[string]*memcache.Client{addr1: memcache.New(addr1), addr2: memcache.New(addr2)}
	defer func() {
		for _, c := range nodes {
			_ = c.Close()
		}
	}()
	held := map[string]int{}
	for i, id := range ids {
		on := 0
		for addr, c := range nodes {
			_, err := c.Get("sess:" + core.StoreKey(id))
			switch err {
			case nil:
				on++
				held[addr]++
			case memcache.ErrCacheMiss:
			default:
				t.Fatalf("node %s: Get: %v", addr, err)
			}
		}
		if on != 1 {
			t.Errorf("session %d is stored on %d nodes; want exactly one", i, on)
		}
	}
	t.Logf("of %d sessions, %s holds %d and %s holds %d", n, addr1, held[addr1], addr2, held[addr2])
	if held[addr1] == 0 || held[addr2] == 0 {
		t.Errorf("the sessions landed on one node only (%v); want both nodes used", held)
	}

	for i, id := range ids {
		if v, ok := readVia(t, a, id, "n"); !ok || v != fmt.Sprint(i) {
			t.Errorf("session %d reads back %q, %v through the middleware; want %q", i, v, ok, fmt.Sprint(i))
		}
	}
	if errs := a.Errs.All(); len(errs) > 0 {
		t.Errorf("the middleware reported errors: %v", errs)
	}
}
