package redis_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginkit/sessions/drivers/redis"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// The client-side cache (client_cache=true) must keep every promise of the
// Driver contract: the conformance suite runs on it, and the tests below
// check what it adds: reads served without a round trip, invalidation by
// writes from elsewhere, and read-your-writes within the process.

func TestConformanceClientCache(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return openDSN(t, "redis://"+addr+"?client_cache=true")
	}, sessionstest.Options{})
}

func TestConformanceClientCacheNew(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return redis.New(c, redis.Options{ClientCache: true})
	}, sessionstest.Options{})
}

// commandCalls returns Redis' count of calls of each command.
func commandCalls(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	info, err := testserver.RedisCommand(addr, "INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return calls
}

// sent returns the commands other than INFO run between two counts.
func sent(before, after map[string]int64) int64 {
	var n int64
	for k, v := range after {
		if k != "info" {
			n += v - before[k]
		}
	}
	return n
}

// waitFor polls cond for up to a second.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after a second: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// primed saves a record with a plain driver (so the cached driver's
// recent-writes window does not apply) and loads it once through d, which
// puts it in d's cache.
func primed(t *testing.T, d, plain *redis.Driver, rec string, ttl time.Duration) string {
	t.Helper()
	ctx := context.Background()
	key := sessionstest.Key(t)
	if saved, err := plain.Save(ctx, key, []byte(rec), 0, ttl); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	if got, _, _, err := d.Load(ctx, key); err != nil || string(got) != rec {
		t.Fatalf("Load = %q, %v; want %q", got, err, rec)
	}
	return key
}

func TestClientCacheServesReadsLocally(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()
	d := openDSN(t, "redis://"+addr+"?client_cache=true")
	defer d.Close(ctx)
	plain := redis.New(newClient(t, addr), redis.Options{})
	key := primed(t, d, plain, "cached", time.Hour)
	_, wantVer, wantExp, err := plain.Load(ctx, key)
	if err != nil {
		t.Fatal(err)
	}

	before := commandCalls(t, addr)
	for range 100 {
		rec, ver, exp, err := d.Load(ctx, key)
		if err != nil || string(rec) != "cached" || ver != wantVer {
			t.Fatalf("cached Load = %q, %d, %v; want %q, %d", rec, ver, err, "cached", wantVer)
		}
		if diff := exp.Sub(wantExp); diff < -50*time.Millisecond || diff > 50*time.Millisecond {
			t.Fatalf("cached Load expiry %v; Redis says %v", exp, wantExp)
		}
	}
	if n := sent(before, commandCalls(t, addr)); n != 0 {
		t.Fatalf("100 cached Loads sent %d commands to Redis; want 0", n)
	}

	// A missing key is cached too.
	missing := sessionstest.Key(t)
	if rec, _, _, err := d.Load(ctx, missing); err != nil || rec != nil {
		t.Fatalf("Load(missing) = %q, %v", rec, err)
	}
	before = commandCalls(t, addr)
	if rec, _, _, err := d.Load(ctx, missing); err != nil || rec != nil {
		t.Fatalf("Load(missing) again = %q, %v", rec, err)
	}
	if n := sent(before, commandCalls(t, addr)); n != 0 {
		t.Fatalf("a second Load of a missing key sent %d commands; want 0", n)
	}
}

func TestClientCacheInvalidatedByOtherWriters(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()
	d := openDSN(t, "redis://"+addr+"?client_cache=true")
	defer d.Close(ctx)
	other := redis.New(newClient(t, addr), redis.Options{}) // another process
	key := primed(t, d, other, "v1", time.Hour)

	// A save elsewhere reaches the cache.
	_, ver, _, _ := other.Load(ctx, key)
	if saved, err := other.Save(ctx, key, []byte("v2"), ver, time.Hour); err != nil || !saved {
		t.Fatalf("other Save = %v, %v", saved, err)
	}
	waitFor(t, "the cached driver still reads v1 after another client saved v2", func() bool {
		rec, _, _, err := d.Load(ctx, key)
		return err == nil && string(rec) == "v2"
	})

	// A touch elsewhere: the new expiry reaches the cache.
	_, _, exp0, _ := d.Load(ctx, key)
	if err := other.Touch(ctx, key, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cached expiry did not follow a touch", func() bool {
		_, _, exp, err := d.Load(ctx, key)
		return err == nil && exp.After(exp0.Add(time.Hour))
	})

	// A delete elsewhere.
	if err := other.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cached driver still reads a record another client deleted", func() bool {
		rec, _, _, err := d.Load(ctx, key)
		return err == nil && rec == nil
	})

	// Expiry: the cached entry lapses with the key.
	key = primed(t, d, other, "short", 300*time.Millisecond)
	time.Sleep(400 * time.Millisecond)
	if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
		t.Fatalf("Load after expiry = %q, %v; want absent", rec, err)
	}
}

// TestClientCacheReadsOwnWrites runs save-then-load and delete-then-load
// many times: the process must never read its own old record back, which
// the cache alone (invalidated asynchronously) would not guarantee.
func TestClientCacheReadsOwnWrites(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()
	d := openDSN(t, "redis://"+addr+"?client_cache=true")
	defer d.Close(ctx)
	plain := redis.New(newClient(t, addr), redis.Options{})
	for i := range 200 {
		key := primed(t, d, plain, "old", time.Hour)
		_, ver, _, err := d.Load(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if saved, err := d.Save(ctx, key, []byte("new"), ver, time.Hour); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
		if rec, _, _, err := d.Load(ctx, key); err != nil || string(rec) != "new" {
			t.Fatalf("round %d: Load right after Save = %q, %v; want new", i, rec, err)
		}
		if err := d.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if rec, _, _, err := d.Load(ctx, key); err != nil || rec != nil {
			t.Fatalf("round %d: Load right after Delete = %q, %v; want absent", i, rec, err)
		}
	}

	// A conditional save that loses to another writer makes the next Load
	// read Redis, so the retry sees the winner's version.
	key := primed(t, d, plain, "base", time.Hour)
	_, ver, _, _ := d.Load(ctx, key)
	if saved, err := plain.Save(ctx, key, []byte("winner"), ver, time.Hour); err != nil || !saved {
		t.Fatalf("other Save = %v, %v", saved, err)
	}
	if saved, err := d.Save(ctx, key, []byte("loser"), ver, time.Hour); err != nil || saved {
		t.Fatalf("stale Save = %v, %v; want false", saved, err)
	}
	rec, ver2, _, err := d.Load(ctx, key)
	if err != nil || string(rec) != "winner" || ver2 == ver {
		t.Fatalf("Load after a lost Save = %q, %d, %v; want the winner's record", rec, ver2, err)
	}
}

// TestClientCacheOffInClient checks that ClientCache with a client whose
// caching is disabled still reads correctly (directly).
func TestClientCacheOffInClient(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()
	d := redis.New(newClient(t, addr), redis.Options{ClientCache: true}) // newClient sets DisableCache
	defer d.Close(ctx)
	plain := redis.New(newClient(t, addr), redis.Options{})
	key := sessionstest.Key(t)
	if saved, err := plain.Save(ctx, key, []byte("x"), 0, time.Hour); err != nil || !saved {
		t.Fatal(saved, err)
	}
	for range 3 {
		rec, ver, exp, err := d.Load(ctx, key)
		if err != nil || string(rec) != "x" || ver == 0 || time.Until(exp) < 59*time.Minute {
			t.Fatalf("Load = %q, %d, %v, %v", rec, ver, exp, err)
		}
	}
}

func TestClientCacheNeedsRESP3(t *testing.T) {
	u, _ := url.Parse("redis://127.0.0.1:1?client_cache=true&protocol=2")
	if _, err := redis.Open(u); err == nil || !strings.Contains(err.Error(), "RESP3") {
		t.Fatalf("Open(client_cache with protocol=2) = %v; want an error about RESP3", err)
	}
}
