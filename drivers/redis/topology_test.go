package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// TestConformanceCluster runs the suite against a 3-master Redis Cluster
// reached through a DSN that lists every master as a seed.
func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	addrs := testserver.StartRedisCluster(t, 3)
	dsn := "redis://" + addrs[0] + "?addr=" + strings.Join(addrs[1:], "&addr=")
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return openDSN(t, dsn)
	}, sessionstest.Options{})

	// Sessions really spread over the masters: a handful of keys land
	// on more than one node.
	d := openDSN(t, dsn)
	defer d.Close(context.Background())
	for range 16 {
		if saved, err := d.Save(context.Background(), sessionstest.Key(t), []byte("x"), 0, time.Minute); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
	}
	used := 0
	for _, addr := range addrs {
		n, err := testserver.RedisCommand(addr, "DBSIZE")
		if err != nil {
			t.Fatal(err)
		}
		if n != "0" {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("16 sessions landed on %d of %d masters; want them spread", used, len(addrs))
	}
}

// TestConformanceSentinel runs the suite against a primary found through
// a Sentinel.
func TestConformanceSentinel(t *testing.T) {
	t.Parallel()
	sentinel, master := testserver.StartRedisSentinel(t)
	dsn := "redis://" + sentinel + "?master_set=" + master
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return openDSN(t, dsn)
	}, sessionstest.Options{})
}
