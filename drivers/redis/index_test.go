package redis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions/drivers/redis"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// TestIndexLayout checks the index's storage: a sorted set at
// prefix+"u:"+user scored by expiry in Unix milliseconds, whose time to
// live follows its latest entry, and which disappears with its last one.
func TestIndexLayout(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()
	d := redis.New(client, redis.Options{Prefix: "lay:"})
	defer d.Close(ctx)

	user, k1, k2 := sessionstest.Key(t), sessionstest.Key(t), sessionstest.Key(t)
	zkey := "lay:u:" + user
	exp1 := time.Now().Add(time.Hour)
	exp2 := time.Now().Add(2 * time.Hour)
	if err := d.IndexUser(ctx, user, k1, exp1); err != nil {
		t.Fatal(err)
	}
	if err := d.IndexUser(ctx, user, k2, exp2); err != nil {
		t.Fatal(err)
	}
	for k, exp := range map[string]time.Time{k1: exp1, k2: exp2} {
		score, err := client.Do(ctx, client.B().Zscore().Key(zkey).Member(k).Build()).AsFloat64()
		if err != nil || int64(score) != exp.UnixMilli() {
			t.Fatalf("ZSCORE = %v, %v; want %d", score, err, exp.UnixMilli())
		}
	}
	pttl := func() time.Duration {
		t.Helper()
		ms, err := client.Do(ctx, client.B().Pttl().Key(zkey).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms) * time.Millisecond
	}
	if got := pttl(); got < 2*time.Hour-time.Minute || got > 2*time.Hour {
		t.Fatalf("index PTTL = %v; want its latest entry's two hours", got)
	}
	// Shortening the latest entry shortens the index's life.
	if err := d.IndexUser(ctx, user, k2, exp1); err != nil {
		t.Fatal(err)
	}
	if got := pttl(); got < time.Hour-time.Minute || got > time.Hour {
		t.Fatalf("index PTTL after shortening = %v; want about an hour", got)
	}
	// Removing every entry removes the index.
	for _, k := range []string{k1, k2} {
		if err := d.UnindexUser(ctx, user, k); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := client.Do(ctx, client.B().Exists().Key(zkey).Build()).AsInt64(); n != 0 {
		t.Fatal("an index without entries still exists")
	}
	// An entry dead on arrival leaves no index behind.
	if err := d.IndexUser(ctx, user, k1, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Do(ctx, client.B().Exists().Key(zkey).Build()).AsInt64(); n != 0 {
		t.Fatal("IndexUser with a past expiry created an index")
	}
	// A short-lived index expires in Redis itself.
	if err := d.IndexUser(ctx, user, k1, time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if n, _ := client.Do(ctx, client.B().Exists().Key(zkey).Build()).AsInt64(); n != 0 {
		t.Fatal("the index outlived its last entry")
	}
}

// TestIndexTwoDrivers checks concurrent IndexUser through two drivers
// (separate clients, as two processes would have) for one user.
func TestIndexTwoDrivers(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()
	a := redis.New(newClient(t, addr), redis.Options{})
	b := redis.New(newClient(t, addr), redis.Options{})
	user := sessionstest.Key(t)
	var wg sync.WaitGroup
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = sessionstest.Key(t)
		d := a
		if i%2 == 1 {
			d = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.IndexUser(ctx, user, keys[i], time.Now().Add(time.Hour)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := a.UserKeys(ctx, user)
	if err != nil || len(got) != len(keys) {
		t.Fatalf("UserKeys = %d keys, %v; want %d", len(got), err, len(keys))
	}
}

func TestIndexErrors(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()
	d := redis.New(client, redis.Options{})
	exp := time.Now().Add(time.Hour)
	k := sessionstest.Key(t)
	for _, bad := range []string{"", "a:b", "a b", strings.Repeat("x", 251)} {
		if err := d.IndexUser(ctx, bad, k, exp); err == nil || !strings.HasPrefix(err.Error(), "redis: index: ") {
			t.Errorf("IndexUser(user %q) = %v; want an error", bad, err)
		}
		if err := d.IndexUser(ctx, k, bad, exp); err == nil {
			t.Errorf("IndexUser(key %q) succeeded", bad)
		}
		if err := d.UnindexUser(ctx, bad, k); err == nil || !strings.HasPrefix(err.Error(), "redis: unindex: ") {
			t.Errorf("UnindexUser(user %q) = %v; want an error", bad, err)
		}
		if _, err := d.UserKeys(ctx, bad); err == nil || !strings.HasPrefix(err.Error(), "redis: user keys: ") {
			t.Errorf("UserKeys(user %q) = %v; want an error", bad, err)
		}
	}
	// A wrong type under the index key is reported, not hidden.
	user := sessionstest.Key(t)
	if err := client.Do(ctx, client.B().Set().Key("sess:u:"+user).Value("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := d.IndexUser(ctx, user, k, exp); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("IndexUser over a string = %v; want WRONGTYPE", err)
	}
	if _, err := d.UserKeys(ctx, user); err == nil {
		t.Errorf("UserKeys over a string succeeded")
	}

	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"IndexUser":   d.IndexUser(ctx, user, k, exp),
		"UnindexUser": d.UnindexUser(ctx, user, k),
		"UserKeys":    func() error { _, err := d.UserKeys(ctx, user); return err }(),
		"Scan":        d.Scan(ctx, func(string) error { return nil }),
	} {
		if !errors.Is(err, redis.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
}
