package sqlstore

import (
	"context"
	"time"
)

// Sweep deletes the expired rows of the sessions table and of the user
// index, in batches of at most SweepBatch rows, one statement (and one
// timeout) per batch, until a batch finds fewer than that; it returns
// how many rows it deleted. Each batch is a short statement of its own,
// so requests interleave with it, and after a full batch Sweep pauses as
// long as the batch took before the next: a large sweep takes at most
// half of the database's time, and requests keep the rest (with a tenth of
// a million sessions expired, unpaced batches tripled /read's p99 on a
// two-core machine). The dialect's statements let two processes sweep one
// table at once without waiting on each other's rows (a conflict the
// dialect reports ends the round quietly). Expired rows are invisible to
// every other operation already; sweeping only reclaims space.
func (s *Store) Sweep(ctx context.Context) (deleted int64, err error) {
	for _, q := range s.sql.Sweep {
		for {
			bctx, cancel, err := s.begin(ctx, "sweep")
			if err != nil {
				return deleted, err
			}
			start := time.Now()
			n, err := s.db.Exec(bctx, q, int64(SweepBatch))
			took := time.Since(start)
			cancel()
			if err != nil {
				if s.d.SweepConflict != nil && s.d.SweepConflict(err) {
					break
				}
				return deleted, s.fail("sweep", err)
			}
			deleted += n
			if n < SweepBatch {
				break
			}
			sweepPause(ctx, took) // a canceled ctx ends the sweep at the next begin
		}
	}
	return deleted, nil
}

// sweepPause waits for d, or until ctx ends; tests replace it.
var sweepPause = func(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// sweeper runs Sweep every interval until ctx ends (Close). A failed
// sweep is left to the next one.
func (s *Store) sweeper(ctx context.Context, interval time.Duration) {
	defer close(s.sweepDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Sweep(ctx)
		}
	}
}
