package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions/drivers/postgres"
	"github.com/ginkit/sessions/sessionstest"
)

// TestClientHangUpKeepsTheConnection: a request whose client hangs up
// mid-statement (its context is cancelled while the statement waits) does
// not cost the pool its connection: the statement runs to its end, and no
// new connection is opened. pgx closes a connection whose statement's
// context is cancelled, so without the store detaching the statement from
// the request's cancellation, every dropped client meant a new
// PostgreSQL backend process.
func TestClientHangUpKeepsTheConnection(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsnFor(t, "pool_max_conns=1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	table := freshTable()
	d, err := postgres.New(pool, postgres.Options{Table: table, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(ctx) })
	key := sessionstest.Key(t)
	if _, err := d.Save(ctx, key, []byte("r"), 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	before := pool.Stat().NewConnsCount()

	// Another connection holds the table locked, so the Load waits.
	locker, err := pgxpool.New(ctx, dsnFor(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(locker.Close)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	reqCtx, hangUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		rec, _, _, err := d.Load(reqCtx, key)
		if err == nil && string(rec) != "r" {
			err = context.DeadlineExceeded
		}
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // the SELECT waits on the lock
	hangUp()
	time.Sleep(200 * time.Millisecond)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the load whose client hung up: %v; want it to finish", err)
	}
	if _, _, _, err := d.Load(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n := pool.Stat().NewConnsCount() - before; n != 0 {
		t.Fatalf("%d new connections after a client hung up; want the pool's one kept", n)
	}
}
