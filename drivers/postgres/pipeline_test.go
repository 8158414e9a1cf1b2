package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions/internal/testserver"
)

// The pipeline's own tests run statements of their own on a table of
// their own, against the real server the other tests use.

var pipeSeq atomic.Int64

// pipeTable creates a table of rows (k, data, n) with the given rows and
// returns its name and a pool over the shared server with the DSN options
// in query.
func pipeTable(t *testing.T, query string, keys ...string) (string, *pgxpool.Pool) {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testserver.SharedPostgres(t).DSN("postgres", query))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	name := fmt.Sprintf("pipe%d_%d", os.Getpid(), pipeSeq.Add(1))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+name+` (k text PRIMARY KEY, data bytea NOT NULL DEFAULT '', n bigint NOT NULL DEFAULT 0, CHECK (data <> '\xbad0'))`); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := pool.Exec(ctx, `INSERT INTO `+name+` (k) VALUES ($1)`, k); err != nil {
			t.Fatal(err)
		}
	}
	return name, pool
}

// modes are the exec modes the pipeline must work in: pgx's default,
// and the two that PgBouncer in transaction mode needs.
var modes = []string{"", "default_query_exec_mode=simple_protocol", "default_query_exec_mode=exec"}

// occupy sends a statement that holds the pipeline's only slot for
// reads or writes for d, and returns a function that waits for it. While
// it runs, the statements sent after it wait, and the first to get the
// slot afterwards takes the others into its batch.
func occupy(t *testing.T, p *pipeline, write bool, d time.Duration) (wait func()) {
	t.Helper()
	q := fmt.Sprintf("SELECT pg_sleep(%g)::text", d.Seconds())
	done := make(chan error, 1)
	before := p.trips.Load()
	go func() {
		if write {
			_, err := p.exec(context.Background(), "", q, nil)
			done <- err
			return
		}
		var s string
		_, err := p.queryRow(context.Background(), "", q, nil, []any{&s})
		done <- err
	}()
	for p.trips.Load() == before { // wait until it is sent
		time.Sleep(time.Millisecond)
	}
	return func() {
		if err := <-done; err != nil {
			t.Errorf("occupying statement: %v", err)
		}
	}
}

// queue runs n calls of fn concurrently, each sending one statement
// through p, waits until they all wait for p's busy slot, and returns a
// function that waits for them to end.
func queue(t *testing.T, p *pipeline, n int, fn func(i int)) (wait func()) {
	t.Helper()
	var ended sync.WaitGroup
	ended.Add(n)
	for i := range n {
		go func() {
			defer ended.Done()
			fn(i)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); p.waiting.Load() < int64(n); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d statements queued after 10s", p.waiting.Load(), n)
		}
	}
	return ended.Wait
}

// TestPipelineBatchesWaitingWrites checks that writes sent while the
// slot is busy go in one round trip, in every exec mode, each with its
// own row count.
func TestPipelineBatchesWaitingWrites(t *testing.T) {
	for _, mode := range modes {
		t.Run("mode="+mode, func(t *testing.T) {
			keys := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
			table, pool := pipeTable(t, mode, keys...)
			p := newPipeline(pool, 1)
			defer p.close()

			wait := occupy(t, p, true, 500*time.Millisecond)
			counts := make([]int64, 2*len(keys))
			errs := make([]error, len(counts))
			done := queue(t, p, len(counts), func(i int) {
				// Half the writes change a row, half match none.
				k := keys[i%len(keys)]
				if i >= len(keys) {
					k = "missing-" + k
				}
				counts[i], errs[i] = p.exec(context.Background(), k, `UPDATE `+table+` SET n = n + 1 WHERE k = $1`, []any{k})
			})
			wait()
			done()
			for i := range counts {
				want := int64(1)
				if i >= len(keys) {
					want = 0
				}
				if errs[i] != nil || counts[i] != want {
					t.Errorf("write %d: %d rows, %v; want %d rows", i, counts[i], errs[i], want)
				}
			}
			if trips, stmts := p.trips.Load(), p.stmts.Load(); trips != 2 || stmts != 21 {
				t.Errorf("%d statements in %d round trips; want 21 in 2 (one occupying, one batch)", stmts, trips)
			}
			var sum int64
			if err := pool.QueryRow(context.Background(), `SELECT sum(n) FROM `+table).Scan(&sum); err != nil || sum != int64(len(keys)) {
				t.Errorf("sum of n = %d, %v; want %d: the batch was not committed", sum, err, len(keys))
			}
		})
	}
}

// TestPipelineFailedWriteRollsBackAndRetries checks that a write the
// database refuses makes the batch's transaction roll back, and that the
// other writes of the batch are then sent again on their own: they
// succeed, and only the bad one reports its error.
func TestPipelineFailedWriteRollsBackAndRetries(t *testing.T) {
	for _, mode := range modes {
		t.Run("mode="+mode, func(t *testing.T) {
			keys := []string{"a", "b", "c", "d", "e", "f"}
			table, pool := pipeTable(t, mode, keys...)
			p := newPipeline(pool, 1)
			defer p.close()

			wait := occupy(t, p, true, 500*time.Millisecond)
			counts := make([]int64, len(keys))
			errs := make([]error, len(keys))
			done := queue(t, p, len(keys), func(i int) {
				data := []byte{byte(i)}
				if keys[i] == "c" {
					data = []byte{0xba, 0xd0} // refused by the CHECK constraint
				}
				counts[i], errs[i] = p.exec(context.Background(), keys[i], `UPDATE `+table+` SET data = $2, n = n + 1 WHERE k = $1`, []any{keys[i], data})
			})
			wait()
			done()
			for i, k := range keys {
				var pe *pgconn.PgError
				switch {
				case k == "c":
					if !errors.As(errs[i], &pe) || pe.Code != "23514" {
						t.Errorf("bad write: %v; want check_violation", errs[i])
					}
				case errs[i] != nil || counts[i] != 1:
					t.Errorf("write of %s: %d rows, %v; want 1 row: a batch-mate's failure leaked", k, counts[i], errs[i])
				}
			}
			var n int64
			if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE n = 1`).Scan(&n); err != nil || n != int64(len(keys)-1) {
				t.Errorf("%d rows written, %v; want %d, each once", n, err, len(keys)-1)
			}
			// One occupying, one batch rolled back, then each alone.
			if trips := p.trips.Load(); trips != int64(2+len(keys)) {
				t.Errorf("%d round trips; want %d", trips, 2+len(keys))
			}
		})
	}
}

// TestPipelineFailedReadRetriesTheOthers checks that a read the database
// refuses does not fail the reads batched with it.
func TestPipelineFailedReadRetriesTheOthers(t *testing.T) {
	for _, mode := range modes {
		t.Run("mode="+mode, func(t *testing.T) {
			keys := []string{"a", "b", "c", "d"}
			table, pool := pipeTable(t, mode, keys...)
			p := newPipeline(pool, 1)
			defer p.close()

			wait := occupy(t, p, false, 500*time.Millisecond)
			got := make([]string, len(keys))
			found := make([]bool, len(keys))
			errs := make([]error, len(keys))
			done := queue(t, p, len(keys), func(i int) {
				q := `SELECT k FROM ` + table + ` WHERE k = $1`
				if keys[i] == "b" {
					q = `SELECT k FROM ` + table + ` WHERE k = $1 AND 1/0 = 1` // division by zero
				}
				found[i], errs[i] = p.queryRow(context.Background(), keys[i], q, []any{keys[i]}, []any{&got[i]})
			})
			wait()
			done()
			for i, k := range keys {
				if k == "b" {
					if errs[i] == nil || !strings.Contains(errs[i].Error(), "division by zero") {
						t.Errorf("bad read: %v; want division by zero", errs[i])
					}
					continue
				}
				if errs[i] != nil || !found[i] || got[i] != k {
					t.Errorf("read of %s: %q, found %v, %v", k, got[i], found[i], errs[i])
				}
			}
		})
	}
}

// TestPipelineWritesDoNotDeadlock has two pipelines (two instances)
// increment the same few rows from many goroutines in random orders. Each
// batch locks its rows in key order, so no two batches wait for each
// other: every increment lands, and PostgreSQL detects no deadlock.
func TestPipelineWritesDoNotDeadlock(t *testing.T) {
	keys := []string{"a", "b", "c", "d", "e"}
	table, pool := pipeTable(t, "", keys...)
	deadlocks := func() int64 {
		var n int64
		if err := pool.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	a, b := newPipeline(pool, 1), newPipeline(pool, 1)
	defer a.close()
	defer b.close()

	const writers, each = 24, 100
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range writers {
		p := a
		if w%2 == 1 {
			p = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := keys[(w*7+i*(w+1))%len(keys)]
				n, err := p.exec(context.Background(), k, `UPDATE `+table+` SET n = n + 1 WHERE k = $1`, []any{k})
				if err != nil || n != 1 {
					failed.Add(1)
					t.Errorf("increment of %s: %d rows, %v", k, n, err)
				}
			}
		}()
	}
	wg.Wait()
	var sum int64
	if err := pool.QueryRow(context.Background(), `SELECT sum(n) FROM `+table).Scan(&sum); err != nil || sum != writers*each {
		t.Errorf("sum = %d, %v; want %d", sum, err, writers*each)
	}
	if d := deadlocks() - before; d != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks", d)
	}
	if trips, stmts := a.trips.Load()+b.trips.Load(), a.stmts.Load()+b.stmts.Load(); trips >= stmts {
		t.Errorf("%d statements in %d round trips: the test made no batch, so it checked nothing", stmts, trips)
	}
}

// TestPipelineCallerGivingUp checks that a statement whose caller's
// context ends while it waits for a slot is never sent.
func TestPipelineCallerGivingUp(t *testing.T) {
	table, pool := pipeTable(t, "")
	p := newPipeline(pool, 1)
	defer p.close()

	wait := occupy(t, p, true, 500*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.exec(ctx, "x", `INSERT INTO `+table+` (k) VALUES ('x')`, nil)
		errc <- err
	}()
	for p.waiting.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("exec = %v; want context.Canceled", err)
	}
	wait()
	// The slot is free again: the next statement runs, the given-up one
	// did not.
	if _, err := p.exec(context.Background(), "y", `INSERT INTO `+table+` (k) VALUES ('y')`, nil); err != nil {
		t.Fatal(err)
	}
	var keys []string
	rows, _ := pool.Query(context.Background(), `SELECT k FROM `+table+` ORDER BY k`)
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		keys = append(keys, k)
	}
	if rows.Err() != nil || strings.Join(keys, ",") != "y" {
		t.Errorf("rows %v, %v; want only y", keys, rows.Err())
	}
}

// TestPipelineClose checks that close lets the batch in flight finish
// and that statements sent afterwards fail without being sent.
func TestPipelineClose(t *testing.T) {
	_, pool := pipeTable(t, "")
	p := newPipeline(pool, 1)
	wait := occupy(t, p, true, 200*time.Millisecond)
	p.close() // waits for the occupying statement
	wait()
	if _, err := p.exec(context.Background(), "k", "SELECT 1", nil); !errors.Is(err, errPipelineClosed) {
		t.Errorf("exec after close = %v; want errPipelineClosed", err)
	}
	var s string
	if _, err := p.queryRow(context.Background(), "k", "SELECT 'x'", nil, []any{&s}); !errors.Is(err, errPipelineClosed) {
		t.Errorf("queryRow after close = %v; want errPipelineClosed", err)
	}
}

// panicky is a scan target that panics, as a bug in a library might.
type panicky struct{}

func (*panicky) Scan(any) error { panic("boom") }

// TestPipelinePanicFreesTheSlot checks that a panic while a batch runs
// reaches the caller whose goroutine led it, fails the batch's other
// statements instead of stranding their callers, and leaves the slot
// free for the next statement.
func TestPipelinePanicFreesTheSlot(t *testing.T) {
	_, pool := pipeTable(t, "")
	p := newPipeline(pool, 1)
	defer p.close()

	wait := occupy(t, p, false, 500*time.Millisecond)
	const n = 4
	errs := make([]error, n)
	panics := make([]any, n)
	done := queue(t, p, n, func(i int) {
		defer func() { panics[i] = recover() }()
		var s string
		dest := []any{&s}
		if i == 0 {
			dest = []any{&panicky{}}
		}
		_, errs[i] = p.queryRow(context.Background(), "k", "SELECT 'x'", nil, dest)
	})
	wait()
	done() // none of them is stranded
	var led int
	for i := range n {
		switch {
		case panics[i] != nil:
			led++
			if panics[i] != "boom" {
				t.Errorf("caller %d panicked with %v; want boom", i, panics[i])
			}
		case !errors.Is(errs[i], errBatchPanicked):
			t.Errorf("caller %d: %v; want errBatchPanicked", i, errs[i])
		}
	}
	if led != 1 {
		t.Errorf("%d callers saw the panic; want the one that led the batch", led)
	}
	var s string
	if found, err := p.queryRow(context.Background(), "k", "SELECT 'y'", nil, []any{&s}); err != nil || !found || s != "y" {
		t.Errorf("after the panic: %q, %v, %v; want y", s, found, err)
	}
}
