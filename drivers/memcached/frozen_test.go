//go:build unix

package memcached

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// TestServerFrozen stops a real memcached with SIGSTOP: connections are
// accepted by the kernel but never answered, so only the socket timeout
// ends a call.
func TestServerFrozen(t *testing.T) {
	t.Parallel()
	addr, proc := testserver.StartMemcached(t)
	const timeout = 200 * time.Millisecond
	d := openDSN(t, "memcached://"+addr+"?timeout=200ms")
	key := sessionstest.Key(t)
	if saved, err := d.Save(ctx, key, []byte("x"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}

	proc.Pause(t) // returns once the kernel reports the process stopped
	t.Cleanup(func() { _ = proc.Cmd.Process.Signal(syscall.SIGCONT) })

	start := time.Now()
	_, _, _, err := d.Load(ctx, key)
	if took := time.Since(start); err == nil || took > timeout+time.Second {
		t.Fatalf("Load from a frozen server = %v after %v; want an error within about %v", err, took, timeout)
	}
	t.Logf("Load from a frozen server: %v", err)

	// Close waits no longer than its context while a call hangs.
	loaded := make(chan error, 1)
	go func() {
		_, _, _, err := d.Load(ctx, key)
		loaded <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Load start
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = d.Close(short)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > timeout/2 {
		t.Errorf("Close with a call in flight = %v after %v; want the context's deadline error at once", err, took)
	}
	if _, _, _, err := d.Load(ctx, key); err != ErrClosed {
		t.Errorf("Load after Close = %v; want ErrClosed", err)
	}
	if err := <-loaded; err == nil {
		t.Error("the Load in flight succeeded against a frozen server")
	}
}
