package testserver

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestFreePortNeverTwice reserves many ports in this process and in a
// second test binary at once: no port is handed out twice, and none lies
// in the kernel's ephemeral range, where an outgoing connection could take
// it before the server binds it.
func TestFreePortNeverTwice(t *testing.T) {
	if os.Getenv("TESTSERVER_CHILD_PORTS") != "" {
		for range 100 {
			os.Stdout.WriteString(strconv.Itoa(FreePort(t)) + "\n")
		}
		return
	}
	lo, hi := portRange()
	seen := map[int]bool{}
	for range 100 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		if p < lo || p >= hi {
			t.Fatalf("FreePort returned %d, outside %d-%d", p, lo, hi)
		}
		seen[p] = true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFreePortNeverTwice$")
	cmd.Env = append(os.Environ(), "TESTSERVER_CHILD_PORTS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	n := 0
	for _, line := range strings.Fields(string(out)) {
		p, err := strconv.Atoi(line)
		if err != nil {
			continue // the child's PASS line
		}
		n++
		if seen[p] {
			t.Fatalf("another test binary got port %d, which this one holds", p)
		}
	}
	if n != 100 {
		t.Fatalf("the child reported %d ports, want 100:\n%s", n, out)
	}
}
