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
// round trip on one connection, as rueidis does for Redis. There is no
// goroutine of the pipeline's own and no timer. Each direction has a few
// slots (batches in flight). A caller that finds a slot free leads: it
// takes every statement already waiting (up to maxBatch), sends them with
// its own as one pgx.Batch on its own goroutine, hands out the results
// and frees the slot. A caller that finds every slot taken waits, until a
// leader takes its statement into a batch or a slot frees up and it
// leads. A lone statement thus goes at once, alone, from its own
// goroutine, exactly as without the pipeline; batches form only when
// statements queue up, which is when they pay.
//
// Reads and writes have their own slots, so a read never waits for a
// commit. A batch is one implicit transaction (pgx sends one Sync), so a
// batch of writes is committed by one flush of the log. Its writes are
// sent in the order of their keys: two batches that write the same rows
// lock them in the same order, and cannot deadlock.
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
//   - a statement whose caller gives up while it waits is never sent.
//     Once a leader took it, the caller waits for the batch, whose
//     deadline is the latest of its statements' (each at most the
//     driver's timeout), so one caller's short deadline never fails its
//     batch-mates, and a caller never returns while its statement may
//     still commit.
//
// There are Options.Pipelines slots for reads and as many for writes
// (DSN pipelines, default 2), each using one pooled connection while its
// batch runs. Few slots make big batches: on the load harness, two per
// direction served 1.5 times the reads and 2 times the writes of one per
// pooled connection. More keep more of a big database server's cores busy from
// one instance. Zero (pipelines=0) sends every statement on its own, as
// is needed behind a pooler that refuses transactions of several
// statements (PgBouncer in statement mode).

// maxBatch is the most statements one round trip carries.
const maxBatch = 64

// errPipelineClosed is what a statement gets when the driver closed
// before it was sent.
var errPipelineClosed = errors.New("closed")

// errBatchPanicked is what the statements of a batch get when its leader
// panicked (a bug) before their results were in.
var errBatchPanicked = errors.New("batch aborted by a panic")

// rowOp is one statement of one session row.
type rowOp struct {
	key   string
	query string
	args  []any
	dest  []any // a read's scan targets; nil for a write
	ctx   context.Context
	done  chan struct{} // a follower's: closed when its results are in

	finished bool // finish was called (by the leader's goroutine)

	n     int64 // rows a write changed
	found bool  // a read found its row
	err   error
}

// lane is one direction of a pipeline: reads or writes.
type lane struct {
	write bool
	slots chan struct{} // a token per batch in flight, Options.Pipelines of them
	q     chan *rowOp   // unbuffered: a follower's op waits in its send until a leader takes it
}

// pipeline sends the row statements of a pool in batches. It has no
// goroutine of its own: the caller that finds a free slot leads a batch
// of its own statement and every one that waits, on its own goroutine.
type pipeline struct {
	pool          *pgxpool.Pool
	reads, writes lane
	stop          chan struct{}
	once          sync.Once

	// Counters for the tests: round trips made and statements they
	// carried (retries on their own included), and the statements
	// waiting for a leader now.
	trips, stmts, waiting atomic.Int64
}

// newPipeline returns a pipeline over pool with slots batches in flight
// for reads and as many for writes.
func newPipeline(pool *pgxpool.Pool, slots int) *pipeline {
	newLane := func(write bool) lane {
		return lane{write: write, slots: make(chan struct{}, slots), q: make(chan *rowOp)}
	}
	return &pipeline{pool: pool, reads: newLane(false), writes: newLane(true), stop: make(chan struct{})}
}

// close waits for the batches in flight to end; a statement sent
// afterwards gets errPipelineClosed.
func (p *pipeline) close() {
	p.once.Do(func() {
		close(p.stop)
		for _, l := range []*lane{&p.reads, &p.writes} {
			for range cap(l.slots) {
				l.slots <- struct{}{}
			}
		}
	})
}

// exec runs a write of the row of key.
func (p *pipeline) exec(ctx context.Context, key, query string, args []any) (int64, error) {
	op := &rowOp{key: key, query: query, args: args, ctx: ctx}
	if err := p.do(ctx, &p.writes, op); err != nil {
		return 0, err
	}
	return op.n, op.err
}

// queryRow runs a read of the row of key into dest.
func (p *pipeline) queryRow(ctx context.Context, key, query string, args, dest []any) (bool, error) {
	op := &rowOp{key: key, query: query, args: args, dest: dest, ctx: ctx}
	if err := p.do(ctx, &p.reads, op); err != nil {
		return false, err
	}
	return op.found, op.err
}

// do runs op through l and returns when its results are in. With a free
// slot it leads a batch at once; otherwise it waits until a leader takes
// op into its batch, or a slot frees up and it leads. It returns an error
// of its own only if op was never sent.
func (p *pipeline) do(ctx context.Context, l *lane, op *rowOp) error {
	select {
	case <-p.stop:
		return errPipelineClosed
	case l.slots <- struct{}{}:
		p.lead(l, op)
		return nil
	default:
	}
	op.done = make(chan struct{})
	p.waiting.Add(1)
	select {
	case l.slots <- struct{}{}:
		p.waiting.Add(-1)
		p.lead(l, op)
		return nil
	case l.q <- op:
		p.waiting.Add(-1)
		<-op.done // taken: the batch's deadline bounds this wait
		return nil
	case <-ctx.Done():
		p.waiting.Add(-1)
		return ctx.Err()
	case <-p.stop:
		p.waiting.Add(-1)
		return errPipelineClosed
	}
}

// lead runs op with every other statement waiting in l (up to maxBatch)
// as one batch, holding one of l's slots, which it then frees: the next
// waiting caller takes it and leads the statements that queued meanwhile.
func (p *pipeline) lead(l *lane, op *rowOp) {
	batch := append(make([]*rowOp, 0, 8), op)
	defer func() {
		if r := recover(); r != nil {
			// Never strand the slot or the callers waiting on this
			// batch, whatever failed.
			for _, o := range batch {
				if !o.finished {
					o.err = errBatchPanicked
					o.finish()
				}
			}
			<-l.slots
			panic(r)
		}
	}()
drain:
	for len(batch) < maxBatch {
		select {
		case o := <-l.q:
			batch = append(batch, o)
		default:
			break drain
		}
	}
	p.run(batch, l.write)
	<-l.slots
}

// run runs the ops of batch: one alone, several in one round trip, and
// publishes their results.
func (p *pipeline) run(batch []*rowOp, write bool) {
	if len(batch) == 1 {
		p.alone(batch[0])
		return
	}
	if write {
		slices.SortStableFunc(batch, func(a, b *rowOp) int { return strings.Compare(a.key, b.key) })
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(batch))}
	for _, op := range batch {
		b.Queue(op.query, op.args...)
	}
	p.trips.Add(1)
	p.stmts.Add(int64(len(batch)))
	br := p.pool.SendBatch(ctx, b)
	closed := false
	defer func() {
		if !closed { // a panic below: give the connection back all the same
			_ = br.Close()
		}
	}()
	for _, op := range batch {
		if op.dest != nil {
			op.found, op.err = scanRow(br.QueryRow(), op.dest)
		} else {
			var tag pgconn.CommandTag
			tag, op.err = br.Exec()
			op.n = tag.RowsAffected()
		}
	}
	closeErr := br.Close()
	closed = true

	rolledBack := serverError(closeErr)
	for _, op := range batch {
		rolledBack = rolledBack || serverError(op.err)
	}
	for _, op := range batch {
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
		op.finish()
	}
}

// finish tells op's caller, if it waits, that its results are in.
func (op *rowOp) finish() {
	op.finished = true
	if op.done != nil {
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
	op.finish()
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
	if err == nil {
		return false // before the declaration below, which allocates
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe)
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
