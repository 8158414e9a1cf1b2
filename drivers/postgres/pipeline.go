package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pipelining.
//
// Every request of a busy server costs PostgreSQL a statement, and a
// statement sent on its own costs the database far more than its work: a
// read of one row by its primary key is a few microseconds of executor
// time inside tens of microseconds of waking the backend, reading its
// socket, starting and ending a transaction and writing the answer; a
// write also waits for its own flush of the write-ahead log. So the
// statements of one session row (Load, Create, Update, Touch, Delete)
// that arrive while others are on their way are sent together, in one
// round trip on one connection, as rueidis does for Redis: a worker takes
// one waiting statement, then every other one already waiting (up to
// maxBatch), and sends them as one pgx.Batch. Nothing waits to fill a
// batch: a lone statement goes at once, alone, as before; batches form
// only when statements queue up, which is when they pay.
//
// Reads and writes have their own queues and workers, so a read never
// waits for a commit. A batch is one implicit transaction (pgx sends one
// Sync), so a batch of writes is committed by one flush of the log. Its
// writes are sent in the order of their keys: two batches that write the
// same rows lock them in the same order, and cannot deadlock.
//
// Results are exactly those of the statements sent one by one:
//   - if PostgreSQL reports an error for any statement of a batch of
//     writes, the batch's transaction is rolled back and none of it is
//     committed, so every write of it is sent again on its own, and only
//     the one that really fails reports an error; in a batch of reads,
//     the failed reads are sent again on their own;
//   - any other error (the connection lost, the deadline passed) leaves
//     a write's outcome unknown, as it would for a lone statement: every
//     write of the batch reports it, and so does every read not answered
//     before it;
//   - a statement whose caller gives up before a worker takes it is never
//     sent. Once taken, the caller waits for the batch, whose deadline is
//     the latest of its statements' (each at most the driver's timeout),
//     so one caller's short deadline never fails its batch-mates, and a
//     caller never returns while its statement may still commit.
//
// There are Options.Pipelines workers for reads and as many for writes
// (DSN pipelines, default 2), each using one pooled connection while it
// runs a batch. Few workers make big batches: on the load harness, two
// per direction served about 1.5 times the requests of one per pooled
// connection. More keep more of a big database server's cores busy from
// one instance. Zero workers (pipelines=0) send every statement on its
// own, as is needed behind a pooler that refuses transactions of several
// statements (PgBouncer in statement mode).

// maxBatch is the most statements one round trip carries.
const maxBatch = 64

// errPipelineClosed is what a statement gets when the driver closed
// before a worker took it.
var errPipelineClosed = errors.New("closed")

// Op states.
const (
	opWaiting   int32 = iota // queued, not yet taken by a worker
	opTaken                  // in a batch: it will run, its caller waits
	opAbandoned              // its caller gave up first: never sent
)

// rowOp is one statement of one session row.
type rowOp struct {
	key   string
	query string
	args  []any
	dest  []any // a read's scan targets; nil for a write
	ctx   context.Context

	state atomic.Int32
	done  chan struct{} // closed by the worker when the results are in

	n     int64 // rows a write changed
	found bool  // a read found its row
	err   error
}

// pipeline sends the row statements of a pool in batches.
type pipeline struct {
	pool   *pgxpool.Pool
	reads  chan *rowOp // unbuffered: an op waits in its sender until taken
	writes chan *rowOp
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	// Counters for the tests: round trips made and statements they
	// carried (retries on their own included), and the statements
	// waiting for a worker now.
	trips, stmts, waiting atomic.Int64
}

// newPipeline starts workers readers and as many writers over pool.
func newPipeline(pool *pgxpool.Pool, workers int) *pipeline {
	p := &pipeline{
		pool:   pool,
		reads:  make(chan *rowOp),
		writes: make(chan *rowOp),
		stop:   make(chan struct{}),
	}
	p.wg.Add(2 * workers)
	for range workers {
		go p.worker(p.reads, false)
		go p.worker(p.writes, true)
	}
	return p
}

// close stops the workers after the batches they hold have run; a
// statement sent afterwards gets errPipelineClosed.
func (p *pipeline) close() {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// exec runs a write of the row of key.
func (p *pipeline) exec(ctx context.Context, key, query string, args []any) (int64, error) {
	op := &rowOp{key: key, query: query, args: args, ctx: ctx, done: make(chan struct{})}
	if err := p.do(ctx, p.writes, op); err != nil {
		return 0, err
	}
	return op.n, op.err
}

// queryRow runs a read of the row of key into dest.
func (p *pipeline) queryRow(ctx context.Context, key, query string, args, dest []any) (bool, error) {
	op := &rowOp{key: key, query: query, args: args, dest: dest, ctx: ctx, done: make(chan struct{})}
	if err := p.do(ctx, p.reads, op); err != nil {
		return false, err
	}
	return op.found, op.err
}

// do hands op to a worker of q and waits for its results. It returns an
// error of its own only if op was never sent.
func (p *pipeline) do(ctx context.Context, q chan *rowOp, op *rowOp) error {
	p.waiting.Add(1)
	select {
	case q <- op:
		p.waiting.Add(-1)
	case <-ctx.Done():
		p.waiting.Add(-1)
		return ctx.Err()
	case <-p.stop:
		p.waiting.Add(-1)
		return errPipelineClosed
	}
	select {
	case <-op.done:
		return nil
	case <-ctx.Done():
		if op.state.CompareAndSwap(opWaiting, opAbandoned) {
			return ctx.Err()
		}
		<-op.done // taken: the batch's deadline bounds this wait
		return nil
	}
}

// worker takes a statement from q, then every other one already waiting
// there, and runs them, until the pipeline stops.
func (p *pipeline) worker(q chan *rowOp, write bool) {
	defer p.wg.Done()
	batch := make([]*rowOp, 0, maxBatch)
	for {
		select {
		case op := <-q:
			batch = append(batch[:0], op)
		case <-p.stop:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-q:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		p.run(batch, write)
		clear(batch) // let the ops go
	}
}

// run takes the ops of batch whose callers still wait and runs them: one
// alone, several in one round trip.
func (p *pipeline) run(batch []*rowOp, write bool) {
	live := batch[:0]
	for _, op := range batch {
		if op.state.CompareAndSwap(opWaiting, opTaken) {
			live = append(live, op)
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		p.alone(live[0])
		return
	}
	if write {
		slices.SortStableFunc(live, func(a, b *rowOp) int { return strings.Compare(a.key, b.key) })
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(live))}
	for _, op := range live {
		b.Queue(op.query, op.args...)
	}
	p.trips.Add(1)
	p.stmts.Add(int64(len(live)))
	br := p.pool.SendBatch(ctx, b)
	for _, op := range live {
		if op.dest != nil {
			op.found, op.err = scanRow(br.QueryRow(), op.dest)
		} else {
			var tag pgconn.CommandTag
			tag, op.err = br.Exec()
			op.n = tag.RowsAffected()
		}
	}
	closeErr := br.Close()

	rolledBack := serverError(closeErr)
	for _, op := range live {
		rolledBack = rolledBack || serverError(op.err)
	}
	for _, op := range live {
		switch {
		case write && rolledBack, !write && serverError(op.err):
			// Not committed, or not read: run it on its own.
			op.n, op.found, op.err = 0, false, nil
			p.alone(op)
			continue
		case write && op.err == nil && closeErr != nil:
			// The batch's end failed: its commit is unknown.
			op.err = closeErr
		}
		close(op.done)
	}
}

// alone runs op on its own, within its own context, and publishes the
// results.
func (p *pipeline) alone(op *rowOp) {
	p.trips.Add(1)
	p.stmts.Add(1)
	if op.dest != nil {
		op.found, op.err = scanRow(p.pool.QueryRow(op.ctx, op.query, op.args...), op.dest)
	} else {
		tag, err := p.pool.Exec(op.ctx, op.query, op.args...)
		op.n, op.err = tag.RowsAffected(), err
	}
	close(op.done)
}

// scanRow scans row into dest, reporting no row as found == false.
func scanRow(row pgx.Row, dest []any) (bool, error) {
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// serverError reports whether PostgreSQL itself answered err, which
// means that the batch's transaction was rolled back.
func serverError(err error) bool {
	var pe *pgconn.PgError
	return err != nil && errors.As(err, &pe)
}

// batchContext returns the context of a batch: no cancellation, and the
// latest deadline of its ops (none if one of them has none), so that no
// op fails because another one's caller was in a hurry.
func batchContext(ops []*rowOp) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, op := range ops {
		d, ok := op.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
