package memory

import (
	"context"
	"fmt"
	"time"
)

// Scan calls fn with the key of every live record, in no particular order,
// for bulk tools (count, migrate, purge); it implements sessions.Scanner.
//
// Scan walks the shards one at a time: under a shard's lock it copies the
// keys of the shard's live records, then it releases the lock and calls fn
// for each of them, so fn may call any method of the driver, Delete
// included, without deadlock. A record live for the whole scan is passed
// exactly once. A record saved or deleted during the scan may or may not be
// passed; in particular a key copied before its record was deleted is
// still passed, and fn then finds it absent. fn is called from the
// goroutine that called Scan, one key at a time. Expired records not yet
// removed are skipped. The user index is not part of the records, so its
// entries are never passed.
//
// If fn returns an error, Scan stops and returns that error unchanged.
// Scan also stops when ctx ends, returning an error that wraps ctx's, and
// after Close it returns ErrClosed. It holds a shard's lock only while
// copying that shard's keys, so requests wait at most that long.
func (d *Driver) Scan(ctx context.Context, fn func(key string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: scan: %w", err)
	}
	var keys []string
	for i := range d.shards {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memory: scan: %w", err)
		}
		s := &d.shards[i]
		now := time.Now().UnixNano()
		keys = keys[:0]
		s.mu.Lock()
		if s.m == nil {
			s.mu.Unlock()
			return ErrClosed
		}
		for k, e := range s.m {
			if e.expires > now {
				keys = append(keys, k)
			}
		}
		s.mu.Unlock()
		for j, k := range keys {
			if j%256 == 255 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("memory: scan: %w", err)
				}
			}
			if err := fn(k); err != nil {
				return err
			}
		}
	}
	return nil
}
