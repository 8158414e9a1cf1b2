package memcached

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

func TestPool(t *testing.T) {
	t.Parallel()
	addr1, _ := testserver.StartMemcached(t)
	addr2, _ := testserver.StartMemcached(t)
	dsn := "memcached://" + addr1 + "," + addr2

	t.Run("Spread", func(t *testing.T) {
		d := openDSN(t, dsn)
		keys := make([]string, 200)
		for i := range keys {
			keys[i] = sessionstest.Key(t)
			rec := fmt.Sprintf("record %d", i)
			if saved, err := d.Save(ctx, keys[i], []byte(rec), 0, time.Hour); err != nil || !saved {
				t.Fatalf("Save %d = %v, %v", i, saved, err)
			}
		}
		held := map[string]int{}
		for _, addr := range []string{addr1, addr2} {
			node := memcache.New(addr)
			for _, key := range keys {
				if _, err := node.Get(DefaultPrefix + key); err == nil {
					held[addr]++
				} else if err != memcache.ErrCacheMiss {
					t.Fatalf("node %s: Get: %v", addr, err)
				}
			}
			_ = node.Close()
		}
		t.Logf("of %d keys, %s holds %d and %s holds %d", len(keys), addr1, held[addr1], addr2, held[addr2])
		if held[addr1] == 0 || held[addr2] == 0 || held[addr1]+held[addr2] != len(keys) {
			t.Fatalf("nodes hold %d and %d of %d keys; want both some, each key once", held[addr1], held[addr2], len(keys))
		}
		for i, key := range keys {
			rec, ver, _, err := d.Load(ctx, key)
			if want := fmt.Sprintf("record %d", i); err != nil || string(rec) != want || ver == 0 {
				t.Fatalf("Load %d = %q v%d, %v; want %q", i, rec, ver, err, want)
			}
		}
	})

	t.Run("Conformance", func(t *testing.T) {
		sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(u)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}, suiteOptions)
	})
}
