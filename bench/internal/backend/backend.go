// Package backend starts the redis-server and memcached the harness
// measures against, on free loopback ports, and reads their counters.
// It follows the main module's internal/testserver, which a separate
// module cannot import.
package backend

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// Server is a running backend process.
type Server struct {
	Name string
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// Stop kills the process and removes its folder.
func (s *Server) Stop() {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr formats a loopback address.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// StartRedis starts redis-server without persistence on a free port.
func StartRedis() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH (Debian: apt-get install redis-server)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{Name: "redis-server", Addr: Addr(port), dir: dir}
	s.cmd = exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
		"--maxclients", "10000")
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitFor(20*time.Second, func() error {
		got, err := RedisCommand(s.Addr, "PING")
		if err == nil && got != "PONG" {
			err = fmt.Errorf("PING answered %q", got)
		}
		return err
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("redis-server at %s: %w", s.Addr, err)
	}
	return s, nil
}

// StartMemcached starts memcached (TCP only, 1 GiB, 2 threads) on a free
// port.
func StartMemcached() (*Server, error) { return StartMemcachedMB(1024) }

// StartMemcachedMB starts memcached (TCP only, at most mb MiB of items,
// 2 threads) on a free port.
func StartMemcachedMB(mb int) (*Server, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return nil, fmt.Errorf("memcached not found on PATH (Debian: apt-get install memcached)")
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", strconv.Itoa(mb), "-c", "8192", "-t", "2"}
	if os.Geteuid() == 0 {
		name := "root"
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		}
		args = append(args, "-u", name)
	}
	s := &Server{Name: "memcached", Addr: Addr(port)}
	s.cmd = exec.Command(bin, args...)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitFor(10*time.Second, func() error { _, err := MemcachedStats(s.Addr); return err }); err != nil {
		s.Stop()
		return nil, fmt.Errorf("memcached at %s: %w", s.Addr, err)
	}
	return s, nil
}

// RedisCommand sends one command over a fresh connection and returns the
// reply as text (arrays joined by spaces).
func RedisCommand(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	var out []string
	if err := readReply(bufio.NewReader(c), &out); err != nil {
		return "", err
	}
	return strings.Join(out, " "), nil
}

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
			return nil
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

// RedisStats is what the harness reads from INFO: calls per command (from
// commandstats), the connections accepted so far and the CPU time used.
type RedisStats struct {
	Calls       map[string]int64
	Connections int64
	CPU         float64 // seconds, user plus system
}

// ReadRedisStats reads INFO commandstats, stats and cpu over one
// connection (which the server counts in total_connections_received).
func ReadRedisStats(addr string) (RedisStats, error) {
	st := RedisStats{Calls: map[string]int64{}}
	info, err := RedisCommand(addr, "INFO", "commandstats", "stats", "cpu")
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(name, "cmdstat_"):
			// cmdstat_get:calls=10,usec=...
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "calls="); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					st.Calls[strings.TrimPrefix(name, "cmdstat_")] = n
				}
			}
		case name == "total_connections_received":
			st.Connections, _ = strconv.ParseInt(rest, 10, 64)
		case name == "used_cpu_user" || name == "used_cpu_sys":
			f, _ := strconv.ParseFloat(rest, 64)
			st.CPU += f
		}
	}
	return st, nil
}

// Sub returns the counters of s minus those of before.
func (s RedisStats) Sub(before RedisStats) RedisStats {
	d := RedisStats{Calls: map[string]int64{}, Connections: s.Connections - before.Connections, CPU: s.CPU - before.CPU}
	for k, v := range s.Calls {
		if n := v - before.Calls[k]; n > 0 {
			d.Calls[k] = n
		}
	}
	return d
}

// McStats is memcached's "stats": the integer counters, and the CPU time
// used (rusage_user plus rusage_system, in seconds).
type McStats struct {
	Counters map[string]int64
	CPU      float64
}

// MemcachedStats returns the server's "stats" counters over one fresh
// connection (which the server counts in total_connections).
func MemcachedStats(addr string) (McStats, error) {
	st := McStats{Counters: map[string]int64{}}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return st, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		return st, err
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return st, err
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			return st, nil
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "STAT" {
			continue
		}
		if f[1] == "rusage_user" || f[1] == "rusage_system" {
			v, _ := strconv.ParseFloat(f[2], 64)
			st.CPU += v
		} else if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			st.Counters[f[1]] = n
		}
	}
}

// MemcachedFlush empties memcached.
func MemcachedFlush(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "flush_all\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "OK" {
		return fmt.Errorf("flush_all answered %q", line)
	}
	return nil
}

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

// RedisMonitor attaches MONITOR to the server at addr for d and counts the
// commands it shows by name (lower case), separately for those clients
// sent and those Lua scripts ran ("[db lua]" in MONITOR's output).
// Redis' commandstats count both alike; this tells them apart. MONITOR
// slows Redis down, so use it on a short probe, not on a measurement.
func RedisMonitor(addr string, d time.Duration) (client, lua map[string]int64, err error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "MONITOR\r\n"); err != nil {
		return nil, nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	client, lua = map[string]int64{}, map[string]int64{}
	r := bufio.NewReaderSize(c, 1<<16)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return client, lua, nil
			}
			return nil, nil, err
		}
		// +1700000000.123456 [0 127.0.0.1:5555] "GET" "key"
		open := strings.IndexByte(line, '[')
		shut := strings.IndexByte(line, ']')
		if open < 0 || shut < open {
			continue
		}
		src := line[open+1 : shut]
		rest := strings.TrimSpace(line[shut+1:])
		name, _, _ := strings.Cut(rest, " ")
		name = strings.ToLower(strings.Trim(name, `"`))
		if name == "" {
			continue
		}
		if strings.HasSuffix(src, " lua") {
			lua[name]++
		} else {
			client[name]++
		}
	}
}
