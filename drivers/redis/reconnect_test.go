package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// TestReconnect stops the server under a Driver, checks that calls fail
// with an error within the driver's timeout, restarts the server on the
// same port and checks that the same Driver recovers.
func TestReconnect(t *testing.T) {
	addr, proc := testserver.StartRedis(t)
	const timeout = time.Second
	d := openDSN(t, "redis://"+addr+"?timeout=1s&dial_timeout=500ms")
	defer d.Close(context.Background())
	ctx := context.Background()
	key := sessionstest.Key(t)
	if saved, err := d.Save(ctx, key, []byte("before"), 0, time.Hour); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}

	proc.Stop()
	start := time.Now()
	_, _, _, err := d.Load(ctx, key)
	if err == nil {
		t.Fatal("Load while the server is down returned no error")
	}
	if took := time.Since(start); took > timeout+time.Second {
		t.Fatalf("Load while the server is down took %v; want about the %v timeout", took, timeout)
	}
	t.Logf("Load during the outage: %v (after %v)", err, time.Since(start).Round(time.Millisecond))
	if _, err := d.Save(ctx, key, []byte("during"), 0, time.Hour); err == nil {
		t.Fatal("Save while the server is down returned no error")
	}

	proc.Restart(t)
	if err := testserver.WaitRedis(addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The server kept nothing (no persistence): the record is gone,
		// and a version-0 Save must work on the same Driver.
		saved, err := d.Save(ctx, key, []byte("after"), 0, time.Hour)
		if err == nil && saved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Driver did not recover within 10s of the restart: Save = %v, %v", saved, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rec, ver, _, err := d.Load(ctx, key)
	if err != nil || string(rec) != "after" || ver == 0 {
		t.Fatalf("Load after recovery = %q, %d, %v", rec, ver, err)
	}
}
