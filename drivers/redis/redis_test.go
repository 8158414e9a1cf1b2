package redis_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginkit/sessions/drivers/redis"
	"github.com/ginkit/sessions/internal/testserver"
	"github.com/ginkit/sessions/sessionstest"
)

// openDSN opens a Driver from dsn or fails the test.
func openDSN(t *testing.T, dsn string) *redis.Driver {
	t.Helper()
	return testserver.OpenURL(t, redis.Open, dsn)
}

// newClient returns a rueidis client for addr, closed when the test ends.
func newClient(t *testing.T, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestConformanceOpen(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return openDSN(t, "redis://"+addr)
	}, sessionstest.Options{})
}

func TestConformanceNew(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver {
		return redis.New(client, redis.Options{Prefix: "app:", Timeout: 2 * time.Second})
	}, sessionstest.Options{})

	// The AfterClose subtests closed drivers made by New: the client they
	// shared must still work.
	if err := client.Do(context.Background(), client.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("client after closing a Driver made by New: %v", err)
	}
}

func TestCloseOwnership(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	ctx := context.Background()

	client := newClient(t, addr)
	d := redis.New(client, redis.Options{})
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := d.Close(ctx); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("second Close = %v; want ErrClosed", err)
	}
	if err := d.Touch(ctx, "k", time.Hour); !errors.Is(err, redis.ErrClosed) {
		t.Fatalf("Touch after Close = %v; want ErrClosed", err)
	}
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		t.Fatalf("New's client was closed by Driver.Close: %v", err)
	}

	owned := openDSN(t, "redis://"+addr)
	if err := owned.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for name, err := range map[string]error{
		"Load":   func() error { _, _, _, err := owned.Load(ctx, "k"); return err }(),
		"Save":   func() error { _, err := owned.Save(ctx, "k", nil, 0, time.Hour); return err }(),
		"Delete": owned.Delete(ctx, "k"),
		"Touch":  owned.Touch(ctx, "k", time.Hour),
	} {
		if !errors.Is(err, redis.ErrClosed) || err.Error() != "redis: driver closed" {
			t.Errorf("%s after Close = %v; want %v", name, err, redis.ErrClosed)
		}
	}
}

func TestPrefix(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()

	for _, tc := range []struct {
		name, dsn, prefix string
	}{
		{"default", "redis://" + addr, "sess:"},
		{"custom", "redis://" + addr + "?prefix=myapp%3As%3A", "myapp:s:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDSN(t, tc.dsn)
			defer d.Close(ctx)
			key := sessionstest.Key(t)
			if saved, err := d.Save(ctx, key, []byte("payload"), 0, time.Minute); err != nil || !saved {
				t.Fatalf("Save = %v, %v", saved, err)
			}
			_, version, _, err := d.Load(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := client.Do(ctx, client.B().Get().Key(tc.prefix+key).Build()).AsBytes()
			if err != nil {
				t.Fatalf("GET %s: %v", tc.prefix+key, err)
			}
			if len(raw) != 16+len("payload") || binary.BigEndian.Uint64(raw) != version || string(raw[16:]) != "payload" {
				t.Fatalf("stored value %q; want version %d, a deadline, then %q", raw, version, "payload")
			}
			if dl := time.UnixMilli(int64(binary.BigEndian.Uint64(raw[8:]))); dl.Before(time.Now()) || dl.After(time.Now().Add(time.Minute)) {
				t.Fatalf("stored deadline %v; want within the next minute", dl)
			}
			pttl, err := client.Do(ctx, client.B().Pttl().Key(tc.prefix+key).Build()).AsInt64()
			if err != nil || pttl <= 0 || pttl > time.Minute.Milliseconds() {
				t.Fatalf("PTTL = %d, %v; want at most a minute", pttl, err)
			}
			if n, err := client.Do(ctx, client.B().Exists().Key(key).Build()).AsInt64(); err != nil || n != 0 {
				t.Fatalf("EXISTS on the bare key = %d, %v; want 0", n, err)
			}
		})
	}
}

// TestForeignValue checks that a value the driver did not write reads as
// absent and is replaced by a version-0 Save, so the core never gets stuck.
func TestForeignValue(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	ctx := context.Background()
	d := redis.New(client, redis.Options{})
	defer d.Close(ctx)

	for _, value := range []string{"", "short", "\x00\x00\x00\x00\x00\x00\x00\x00rest"} {
		key := sessionstest.Key(t)
		if err := client.Do(ctx, client.B().Set().Key("sess:"+key).Value(value).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		rec, ver, exp, err := d.Load(ctx, key)
		if err != nil || rec != nil || ver != 0 || !exp.IsZero() {
			t.Fatalf("Load(foreign %q) = %q, %d, %v, %v; want absent", value, rec, ver, exp, err)
		}
		if saved, err := d.Save(ctx, key, []byte("mine"), 0, time.Minute); err != nil || !saved {
			t.Fatalf("Save(version 0) over foreign %q = %v, %v; want true", value, saved, err)
		}
		if rec, ver, _, err := d.Load(ctx, key); err != nil || string(rec) != "mine" || ver == 0 {
			t.Fatalf("Load after replacing foreign %q = %q, %d, %v", value, rec, ver, err)
		}
	}

	// A value without expiry (written by someone else) is returned with a
	// zero expiry, and Touch gives it one.
	key := sessionstest.Key(t)
	value := string(binary.BigEndian.AppendUint64(nil, 42)) + string(make([]byte, 8)) + "persist"
	if err := client.Do(ctx, client.B().Set().Key("sess:"+key).Value(value).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	rec, ver, exp, err := d.Load(ctx, key)
	if err != nil || string(rec) != "persist" || ver != 42 || !exp.IsZero() {
		t.Fatalf("Load(no expiry) = %q, %d, %v, %v; want %q, 42, zero time", rec, ver, exp, err, "persist")
	}
	if err := d.Touch(ctx, key, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, exp, err := d.Load(ctx, key); err != nil || exp.IsZero() {
		t.Fatalf("Load after Touch: expiry %v, %v; want one", exp, err)
	}
}

func TestTimeoutBoundsEachCall(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	client := newClient(t, addr)
	d := redis.New(client, redis.Options{Timeout: time.Nanosecond})
	_, _, _, err := d.Load(context.Background(), sessionstest.Key(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load with a 1ns timeout = %v; want a wrapped context.DeadlineExceeded", err)
	}
	if got, prefix := err.Error(), "redis: load: "; len(got) < len(prefix) || got[:len(prefix)] != prefix {
		t.Fatalf("error %q does not start with %q", got, prefix)
	}
}

// TestOpenAuthAndDatabase checks that the DSN's password and database
// number reach the server, and that a wrong password fails Open without
// showing it.
func TestOpenAuthAndDatabase(t *testing.T) {
	addr, _ := testserver.StartRedis(t)
	const pw = "test-Secret-77"
	if _, err := testserver.RedisCommand(addr, "CONFIG", "SET", "requirepass", pw); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	u, _ := url.Parse("redis://:wrong-" + pw + "@" + addr)
	if _, err := redis.Open(u); err == nil {
		t.Fatal("Open with a wrong password succeeded")
	} else if strings.Contains(err.Error(), pw) {
		t.Fatalf("Open error shows the password: %v", err)
	}

	d := openDSN(t, "redis://default:"+pw+"@"+addr+"/2?prefix=p:")
	defer d.Close(ctx)
	key := sessionstest.Key(t)
	if saved, err := d.Save(ctx, key, []byte("in db 2"), 0, time.Minute); err != nil || !saved {
		t.Fatalf("Save = %v, %v", saved, err)
	}
	for db, want := range map[int]int64{0: 0, 2: 1} {
		c, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress: []string{addr}, Password: pw, SelectDB: db, DisableCache: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.Do(ctx, c.B().Exists().Key("p:"+key).Build()).AsInt64()
		c.Close()
		if err != nil || n != want {
			t.Errorf("EXISTS in db %d = %d, %v; want %d", db, n, err, want)
		}
	}
}
