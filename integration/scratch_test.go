package integration

import (
	"context"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

func TestScratchExpiryRace(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	d, err := sessions.Open("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	ctx := context.Background()
	fails := 0
	for i := 0; i < 100; i++ {
		key := sessionstest.Key(t)
		if ok, err := d.Save(ctx, key, []byte("x"), 0, 20*time.Millisecond); !ok || err != nil {
			t.Fatal(ok, err)
		}
		for {
			rec, _, _, err := d.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if rec == nil {
				break
			}
		}
		ok, err := d.Save(ctx, key, []byte("y"), 0, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			fails++
		}
	}
	t.Logf("%d of 100 version-0 saves right after Load reported absence were refused", fails)
}
