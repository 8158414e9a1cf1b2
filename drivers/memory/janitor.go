package memory

import (
	"context"
	"fmt"
	"math"
	"time"
)

// janitor removes expired entries every interval until Close.
func (d *Driver) janitor(interval time.Duration) {
	defer close(d.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.sweep()
		}
	}
}

// sweep is the janitor's Sweep: it stops early when Close begins.
func (d *Driver) sweep() { _, _ = d.Sweep(context.Background()) }

// Sweep removes the expired records of every shard now and returns how
// many it removed; the janitor calls it every Options.SweepInterval, and
// with the janitor off (a negative SweepInterval) a caller can run it on a
// schedule of its own. It holds one shard's lock at a time, so a request
// waits at most for one shard's sweep, and a shard whose earliest expiry
// is still ahead is skipped without a scan. It stops early, with ctx's
// error, if ctx ends, and returns ErrClosed after Close (also when Close
// happens during the sweep).
func (d *Driver) Sweep(ctx context.Context) (removed int, err error) {
	for i := range d.shards {
		select {
		case <-d.stop:
			return removed, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("memory: sweep: %w", err)
		}
		s := &d.shards[i]
		now := time.Now().UnixNano()
		s.mu.Lock()
		if s.m == nil {
			s.mu.Unlock()
			return removed, ErrClosed
		}
		removed += d.sweepShardLocked(s, now)
		s.mu.Unlock()
	}
	return removed, nil
}

// sweepShardLocked removes the entries of s expired at now and returns how
// many it removed. The caller holds s.mu. It skips the scan when the
// shard's lower bound on expiry shows nothing can have expired, and
// otherwise recomputes that bound exactly.
func (d *Driver) sweepShardLocked(s *shard, now int64) int {
	if s.minExpires > now {
		return 0
	}
	removed := 0
	low := int64(math.MaxInt64)
	for k, e := range s.m {
		if e.expires <= now {
			delete(s.m, k)
			removed++
			continue
		}
		if e.expires < low {
			low = e.expires
		}
	}
	s.minExpires = low
	if removed > 0 {
		d.expired.Add(uint64(removed))
	}
	return removed
}
