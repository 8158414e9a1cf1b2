package sqltest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
	"github.com/ginkit/sessions/sessionstest"
)

// Sweeper is a SQL driver: a sessions.Driver and sessions.UserIndexer
// with a Sweep method.
type Sweeper interface {
	sessions.Driver
	sessions.UserIndexer
	Sweep(ctx context.Context) (int64, error)
}

// expiredRows is how many expired records SweepExpired makes: more than
// two batches of the sweep.
const expiredRows = 2500

// SweepExpired fills one table, through two drivers from open (whose
// background sweep must be off), with 2500 expired records (more than two
// sweep batches), a few live ones and expired and live user index entries;
// then both drivers sweep at once. Neither errors, together they delete
// exactly the expired rows, and the live ones stay. rows counts the rows
// of the sessions table, expired or not, straight from the database.
func SweepExpired(t *testing.T, open func(t *testing.T) Sweeper, rows func(t *testing.T) int) {
	ctx := context.Background()
	d1, d2 := open(t), open(t)
	if _, _, _, err := d1.Load(ctx, "warmup"); err != nil { // creates the tables
		t.Fatal(err)
	}
	before := rows(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	const writers = 8
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < expiredRows; i += writers {
				if _, err := d1.Save(ctx, fmt.Sprintf("expired-%04d-%s", i, sessionstest.Key(t)[:8]), []byte("x"), 0, time.Millisecond); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Save: %v", err)
	}
	live := []string{sessionstest.Key(t), sessionstest.Key(t), sessionstest.Key(t)}
	for _, k := range live {
		if ok, err := d2.Save(ctx, k, []byte("live"), 0, time.Hour); err != nil || !ok {
			t.Fatalf("Save(live) = %v, %v", ok, err)
		}
	}
	user := sessionstest.Key(t)
	for i := range 5 {
		if err := d1.IndexUser(ctx, user, fmt.Sprintf("gone%d", i), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d1.IndexUser(ctx, user, live[0], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t); got != before+expiredRows+len(live) {
		t.Fatalf("the table holds %d rows after saving %d; want %d", got, expiredRows+len(live), before+expiredRows+len(live))
	}
	time.Sleep(20 * time.Millisecond) // the 1ms records have expired

	var n1, n2 int64
	var e1, e2 error
	wg.Add(2)
	go func() { defer wg.Done(); n1, e1 = d1.Sweep(ctx) }()
	go func() { defer wg.Done(); n2, e2 = d2.Sweep(ctx) }()
	wg.Wait()
	if e1 != nil || e2 != nil {
		t.Fatalf("two drivers sweeping at once: %v, %v", e1, e2)
	}
	// A sweep that met the other's locks may have left rows to the next
	// round; one more round finishes.
	n3, err := d1.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total := n1 + n2 + n3; total != expiredRows+5 {
		t.Errorf("the sweeps deleted %d + %d + %d rows; want %d expired records and 5 expired index entries", n1, n2, n3, expiredRows+5)
	}
	t.Logf("concurrent sweeps deleted %d and %d rows, a third %d", n1, n2, n3)
	if got := rows(t); got != before+len(live) {
		t.Errorf("the table holds %d rows after the sweep; want the %d live ones", got-before, len(live))
	}
	for _, k := range live {
		if rec, _, _, err := d1.Load(ctx, k); err != nil || string(rec) != "live" {
			t.Errorf("Load(live) after the sweep = %q, %v", rec, err)
		}
	}
	keys, err := d2.UserKeys(ctx, user)
	if err != nil || len(keys) != 1 || keys[0] != live[0] {
		t.Errorf("UserKeys after the sweep = %q, %v; want the live entry", keys, err)
	}
	if n, err := d2.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("Sweep with nothing expired = %d, %v; want 0, nil", n, err)
	}
}

// BackgroundSweep checks that a driver from open, whose sweep_interval
// is short, deletes an expired record by itself.
func BackgroundSweep(t *testing.T, open func(t *testing.T) Sweeper, rows func(t *testing.T) int) {
	d := open(t)
	if _, _, _, err := d.Load(context.Background(), "warmup"); err != nil { // creates the tables
		t.Fatal(err)
	}
	before := rows(t)
	if ok, err := d.Save(context.Background(), sessionstest.Key(t), []byte("x"), 0, time.Millisecond); err != nil || !ok {
		t.Fatalf("Save = %v, %v", ok, err)
	}
	if !suite.WaitUntil(20*time.Second, func() bool { return rows(t) <= before }) {
		t.Fatalf("the background sweep left the expired record in place for 20s")
	}
}
