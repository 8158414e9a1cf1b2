package redis_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginkit/sessions/drivers/redis"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// scanAll returns how often Scan passed each key.
func scanAll(t *testing.T, d *redis.Driver) map[string]int {
	t.Helper()
	seen := map[string]int{}
	if err := d.Scan(context.Background(), func(k string) error { seen[k]++; return nil }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return seen
}

// TestScanClusterAllMasters saves keys that land on every master of a
// three-master Cluster, one of which also has a replica, and checks that
// Scan passes each of them exactly once: every master is scanned, and the
// replica (which holds copies of its master's keys) is not.
func TestScanClusterAllMasters(t *testing.T) {
	t.Parallel()
	addrs := testserver.StartRedisCluster(t, 3)
	replica := startClusterReplica(t, addrs[0])

	client := newClient(t, addrs...)
	// rueidis learns the replica from the cluster's topology.
	deadline := time.Now().Add(20 * time.Second)
	for len(client.Nodes()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the client knows %d nodes; want 3 masters and the replica %s", len(client.Nodes()), replica)
		}
		time.Sleep(50 * time.Millisecond)
		client.Close()
		client = newClient(t, addrs...)
	}
	if _, ok := client.Nodes()[replica]; !ok {
		t.Fatalf("the client's nodes %v do not include the replica %s", keysOf(client.Nodes()), replica)
	}

	ctx := context.Background()
	d := redis.New(client, redis.Options{})
	defer d.Close(ctx)
	keys := make([]string, 120)
	for i := range keys {
		keys[i] = sessionstest.Key(t)
		if saved, err := d.Save(ctx, keys[i], []byte("x"), 0, time.Hour); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
	}
	for _, addr := range addrs {
		n, err := testserver.RedisCommand(addr, "DBSIZE")
		if err != nil {
			t.Fatal(err)
		}
		if n == "0" {
			t.Fatalf("master %s holds no key; the test needs keys on every master", addr)
		}
	}
	// Wait for the replica to hold its master's keys, so that scanning it
	// would show.
	want, _ := testserver.RedisCommand(addrs[0], "DBSIZE")
	for {
		got, err := testserver.RedisCommand(replica, "DBSIZE")
		if err == nil && got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica holds %s keys, its master %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	seen := scanAll(t, d)
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("Scan passed a key %d times; want once (every master scanned, replicas skipped)", seen[k])
		}
	}
	if len(seen) != len(keys) {
		t.Errorf("Scan passed %d keys; %d were saved", len(seen), len(keys))
	}
}

func keysOf(m map[string]rueidis.Client) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// startClusterReplica starts one more cluster-enabled redis-server and
// makes it a replica of the master at masterAddr. It returns its address
// once the replica reports its link to the master up and the master's
// view of the cluster includes it.
func startClusterReplica(t *testing.T, masterAddr string) string {
	t.Helper()
	bin := testserver.Need(t, "redis-server", "redis-server")
	cli := testserver.Need(t, "redis-cli", "redis-tools")
	dir := t.TempDir()
	port := testserver.FreePort(t)
	addr := testserver.Addr(port)
	testserver.Start(t, "redis-server (replica) "+addr, bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-port", strconv.Itoa(testserver.FreePort(t)),
		"--cluster-node-timeout", "5000",
	)
	if err := testserver.WaitRedis(addr, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	id, err := testserver.RedisCommand(masterAddr, "CLUSTER", "MYID")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cli, "--cluster", "add-node", addr, masterAddr,
		"--cluster-slave", "--cluster-master-id", id).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster add-node: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err1 := testserver.RedisCommand(addr, "INFO", "replication")
		nodes, err2 := testserver.RedisCommand(masterAddr, "CLUSTER", "NODES")
		if err1 == nil && err2 == nil && strings.Contains(info, "master_link_status:up") &&
			strings.Contains(nodes, addr) && strings.Contains(nodes, "slave "+id) {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready: %v %v\n%s\n%s", addr, err1, err2, info, nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScanPassesSessionKeysOnly checks the filter on Scan's MATCH: keys
// under the prefix that are not prefix + a session key (index keys, keys
// with a ':', overlong keys) are not passed, and a prefix with glob
// characters matches only itself.
func TestScanPassesSessionKeysOnly(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()
	const prefix = "a*b?[c]\\:"
	d := redis.New(client, redis.Options{Prefix: prefix})
	defer d.Close(ctx)

	mine := []string{sessionstest.Key(t), "short", strings.Repeat("z", 250)}
	for _, k := range mine {
		if saved, err := d.Save(ctx, k, []byte("x"), 0, time.Hour); err != nil || !saved {
			t.Fatalf("Save = %v, %v", saved, err)
		}
	}
	user := sessionstest.Key(t)
	if err := d.IndexUser(ctx, user, mine[0], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	set := func(key string) {
		if err := client.Do(ctx, client.B().Set().Key(key).Value("12345678x").Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	for _, foreign := range []string{
		prefix + "other:thing",              // another shape under the prefix
		prefix + strings.Repeat("z", 251),   // longer than a key
		prefix + "u:" + sessionstest.Key(t), // looks like an index key
		"aXb?[c]\\:" + sessionstest.Key(t),  // what an unescaped * would match
		"abc:" + sessionstest.Key(t),        // what an unescaped ? [c] would match
		"sess:" + sessionstest.Key(t),       // another prefix
	} {
		set(foreign)
	}
	seen := scanAll(t, d)
	if len(seen) != len(mine) {
		t.Errorf("Scan passed %q; want exactly the %d session keys", keysOfCount(seen), len(mine))
	}
	for _, k := range mine {
		if seen[k] != 1 {
			t.Errorf("Scan passed %q %d times; want once", k, seen[k])
		}
	}
	// The index key is there, under the prefix, and was not passed.
	if n, err := client.Do(ctx, client.B().Exists().Key(prefix+"u:"+user).Build()).AsInt64(); err != nil || n != 1 {
		t.Fatalf("EXISTS index key = %d, %v", n, err)
	}
}

func keysOfCount(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestScanErrors(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()
	d := redis.New(client, redis.Options{Prefix: "scanerr:"})
	for i := 0; i < 3; i++ {
		d.Save(ctx, sessionstest.Key(t), []byte("x"), 0, time.Hour)
	}
	stop := errors.New("stop")
	if err := d.Scan(ctx, func(string) error { return stop }); err != stop {
		t.Fatalf("Scan = %v; want fn's error itself", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Scan(cctx, func(string) error { return nil }); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "redis: scan: ") {
		t.Fatalf("Scan(canceled) = %v", err)
	}
	// Close during a scan stops it with ErrClosed.
	err := d.Scan(ctx, func(string) error { return d.Close(ctx) })
	if !errors.Is(err, redis.ErrClosed) && err != nil {
		t.Fatalf("Scan closed by fn = %v", err)
	}
	if err := d.Scan(ctx, func(string) error { return nil }); err != redis.ErrClosed {
		t.Fatalf("Scan after Close = %v; want ErrClosed", err)
	}
}
