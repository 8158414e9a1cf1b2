package testserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisStartTimeout bounds every wait for a Redis server, cluster or
// sentinel to become ready.
const redisStartTimeout = 20 * time.Second

// StartRedis starts a redis-server on a free 127.0.0.1 port, without
// persistence (--save "" --appendonly no), in its own temporary folder. It
// returns once the server answers PING; tb.Cleanup stops it. The returned
// Process can be stopped and restarted on the same port (Process.Restart,
// then WaitRedis) to simulate an outage.
func StartRedis(tb testing.TB) (addr string, proc *Process) {
	tb.Helper()
	bin := Need(tb, "redis-server", "redis-server")
	dir := tb.TempDir() // before Start: cleanups run last-in first-out
	port := FreePort(tb)
	addr = Addr(port)
	proc = Start(tb, "redis-server "+addr, bin, redisArgs(port, dir)...)
	if err := WaitRedis(addr, redisStartTimeout); err != nil {
		tb.Fatal(err)
	}
	return addr, proc
}

// StartRedisCluster starts a Redis Cluster of the given number of masters
// (at least 3, as redis-cli requires) without replicas, each node on its
// own free port and in its own temporary folder. It returns the node
// addresses once every node reports cluster_state:ok and knows all the
// others; tb.Cleanup stops the nodes.
func StartRedisCluster(tb testing.TB, masters int) []string {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("testserver: a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	bin := Need(tb, "redis-server", "redis-server")
	cli := Need(tb, "redis-cli", "redis-tools")
	addrs := make([]string, masters)
	for i := range addrs {
		dir := tb.TempDir()
		port := FreePort(tb)
		addrs[i] = Addr(port)
		args := append(redisArgs(port, dir),
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// The bus port defaults to port+10000, which may be taken
			// or beyond 65535 for a port from the ephemeral range.
			"--cluster-port", strconv.Itoa(FreePort(tb)),
			"--cluster-node-timeout", "5000",
		)
		Start(tb, "redis-server (cluster) "+addrs[i], bin, args...)
	}
	for _, addr := range addrs {
		if err := WaitRedis(addr, redisStartTimeout); err != nil {
			tb.Fatal(err)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("testserver: redis-cli --cluster create: %v\n%s", err, out)
	}
	want := "cluster_known_nodes:" + strconv.Itoa(masters)
	for _, addr := range addrs {
		err := waitFor(redisStartTimeout, func() error {
			info, err := RedisCommand(addr, "CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				return fmt.Errorf("cluster not ready: %s", strings.Join(strings.Fields(info), " "))
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("testserver: Redis Cluster node %s: %v\nredis-cli said:\n%s", addr, err, out)
		}
	}
	return addrs
}

// StartRedisSentinel starts a primary redis-server and one Sentinel that
// monitors it (quorum 1) under a fresh master name. It returns the
// sentinel's address and the master name once the sentinel reports the
// primary as a healthy master; tb.Cleanup stops both processes.
func StartRedisSentinel(tb testing.TB) (sentinelAddr, masterName string) {
	tb.Helper()
	bin := Need(tb, "redis-server", "redis-server")
	primary, _ := StartRedis(tb)
	_, primaryPort, _ := net.SplitHostPort(primary)

	dir := tb.TempDir()
	port := FreePort(tb)
	sentinelAddr = Addr(port)
	masterName = fmt.Sprintf("sess%d", port)
	// Sentinel rewrites its configuration file, so it must be writable and
	// in the sentinel's own folder.
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
		"sentinel monitor %s 127.0.0.1 %s 1\n"+
		"sentinel down-after-milliseconds %s 5000\n",
		port, dir, masterName, primaryPort, masterName)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatalf("testserver: write sentinel config: %v", err)
	}
	Start(tb, "redis-sentinel "+sentinelAddr, bin, conf, "--sentinel")
	if err := WaitRedis(sentinelAddr, redisStartTimeout); err != nil {
		tb.Fatal(err)
	}
	err := waitFor(redisStartTimeout, func() error {
		got, err := RedisCommand(sentinelAddr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)
		if err != nil {
			return err
		}
		if got != "127.0.0.1 "+primaryPort {
			return fmt.Errorf("sentinel reports master at %q", got)
		}
		master, err := RedisCommand(sentinelAddr, "SENTINEL", "MASTER", masterName)
		if err != nil {
			return err
		}
		if !strings.Contains(" "+master+" ", " flags master ") {
			return fmt.Errorf("sentinel reports master state %q", master)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("testserver: sentinel %s never reported master %s at %s: %v", sentinelAddr, masterName, primary, err)
	}
	return sentinelAddr, masterName
}

// WaitRedis waits until the Redis server (or sentinel) at addr answers
// PING with PONG, for at most timeout.
func WaitRedis(addr string, timeout time.Duration) error {
	err := waitFor(timeout, func() error {
		got, err := RedisCommand(addr, "PING")
		if err == nil && got != "PONG" {
			err = fmt.Errorf("PING answered %q", got)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("testserver: redis at %s not ready within %v: %w", addr, timeout, err)
	}
	return nil
}

// RedisCommand sends one command to the server at addr over a fresh
// connection and returns its reply as text: a status, integer or bulk
// string as is, an array as its elements joined by spaces (nested arrays
// flattened). An error reply is returned as an error. It is meant for test
// setup and inspection, not for speed.
func RedisCommand(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	var out []string
	if err := readReply(bufio.NewReader(c), &out); err != nil {
		return "", err
	}
	return strings.Join(out, " "), nil
}

// readReply reads one RESP2 reply and appends its scalar parts to out.
func readReply(r *bufio.Reader, out *[]string) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return fmt.Errorf("empty reply line")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		*out = append(*out, body)
	case '-':
		return fmt.Errorf("redis error: %s", body)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return fmt.Errorf("bad bulk length %q", body)
		}
		if n < 0 {
			return nil // nil bulk string
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		*out = append(*out, string(buf[:n]))
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return fmt.Errorf("bad array length %q", body)
		}
		for i := 0; i < n; i++ {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// redisArgs are the arguments every test redis-server gets.
func redisArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
	}
}

// waitFor calls check every 20ms until it returns nil or timeout passes,
// and then returns the last error.
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
