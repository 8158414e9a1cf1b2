package sqlstore

import (
	"context"
	"time"
)

// Sweep deletes the expired rows of the sessions table and of the user
// index, in batches of at most SweepBatch rows, one statement (and one
// timeout) per batch, until a batch finds fewer than that; it returns
// how many rows it deleted. Each batch is a short statement of its own,
// so requests interleave with it, and the dialect's statements let two
// processes sweep one table at once without waiting on each other's
// rows (a conflict the dialect reports ends the round quietly). Expired
// rows are invisible to every other operation already; sweeping only
// reclaims space.
func (s *Store) Sweep(ctx context.Context) (deleted int64, err error) {
	for _, q := range s.sql.Sweep {
		for {
			bctx, cancel, err := s.begin(ctx, "sweep")
			if err != nil {
				return deleted, err
			}
			n, err := s.db.Exec(bctx, q, int64(SweepBatch))
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
		}
	}
	return deleted, nil
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
