package memory

import (
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

// sweep removes the expired entries of every shard, one shard lock at a
// time, so requests wait at most for one shard's sweep.
func (d *Driver) sweep() {
	for i := range d.shards {
		select {
		case <-d.stop:
			return
		default:
		}
		s := &d.shards[i]
		now := time.Now().UnixNano()
		s.mu.Lock()
		if s.m != nil {
			d.sweepShardLocked(s, now)
		}
		s.mu.Unlock()
	}
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
