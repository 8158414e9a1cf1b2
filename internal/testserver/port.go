package testserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that is free and that no other
// FreePort call hands out while this test binary runs, in this process or
// in any other test binary running beside it (go test runs packages in
// parallel).
//
// Asking the kernel for port 0 is not enough: the port is closed before
// the server binds it, so the next call (or another package's) may get the
// same one, and an outgoing connection may take it meanwhile; two Redis
// Cluster nodes once got one port and the cluster had two nodes instead
// of three. So the port comes from below the kernel's ephemeral range,
// where neither bind(0) nor outgoing connections pick ports, and it is
// reserved with an exclusive lock on a file named after it, held until
// the process exits.
func FreePort(tb testing.TB) int {
	tb.Helper()
	port, err := reservePort()
	if err != nil {
		tb.Fatalf("testserver: find a free port: %v", err)
	}
	return port
}

var ports struct {
	sync.Mutex
	dir   string
	taken map[int]*os.File // the locks this process holds, kept open
}

func reservePort() (int, error) {
	ports.Lock()
	defer ports.Unlock()
	if ports.dir == "" {
		dir := filepath.Join(os.TempDir(), "ginkit-testports-"+strconv.Itoa(os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, err
		}
		ports.dir, ports.taken = dir, map[int]*os.File{}
	}
	lo, hi := portRange()
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if ports.taken[port] != nil {
			continue
		}
		f, err := os.OpenFile(filepath.Join(ports.dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return 0, err
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // another test binary holds it
			continue
		}
		l, err := net.Listen("tcp", Addr(port))
		if err != nil {
			f.Close() // something else listens there
			continue
		}
		l.Close()
		ports.taken[port] = f
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d after 1000 tries", lo, hi)
}

// portRange is a range of ports outside the kernel's ephemeral range.
func portRange() (lo, hi int) {
	lo, hi = 10000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	elo, err1 := strconv.Atoi(f[0])
	ehi, err2 := strconv.Atoi(f[1])
	switch {
	case err1 != nil || err2 != nil:
		return lo, hi
	case elo-lo >= 4000:
		return lo, elo
	case 65535-ehi >= 4000:
		return ehi + 1, 65536
	}
	return lo, hi
}
