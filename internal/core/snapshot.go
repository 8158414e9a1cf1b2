package core

import (
	"context"
	"time"
)

// Snapshot is a read-only copy of one stored session.
type Snapshot struct {
	Key     string // the store key, never the raw ID
	Created time.Time
	Expires time.Time
	Meta    Meta
	Values  Values
}

// Snapshot loads the session stored under key without changing anything:
// during a move it also looks in the previous backend, without moving. It
// returns (nil, nil) if no usable session is stored there (unknown,
// expired, past its absolute lifetime, or not decodable).
func (e *Engine) Snapshot(ctx context.Context, key string) (*Snapshot, error) {
	snap, _, err := e.snapshot(ctx, key)
	return snap, err
}

// snapshot is Snapshot that also reports a record this instance cannot
// open (unreadable), which is not its to prune.
func (e *Engine) snapshot(ctx context.Context, key string) (snap *Snapshot, unreadable bool, err error) {
	rec, _, exp, err := e.driver.Load(ctx, key)
	if err != nil {
		return nil, false, wrap("load", KindStore, err)
	}
	if rec == nil && e.prev != nil {
		if rec, _, exp, err = e.prev.Load(ctx, key); err != nil {
			return nil, false, wrap("load from the previous backend", KindStore, err)
		}
		if rec == nil {
			// It may have moved between the two looks: look again.
			if rec, _, exp, err = e.driver.Load(ctx, key); err != nil {
				return nil, false, wrap("load", KindStore, err)
			}
		}
	}
	if rec == nil || isTombstone(rec) {
		return nil, false, nil
	}
	r, err := e.decode(key, rec)
	if err != nil {
		return nil, true, nil
	}
	if e.pastAbsolute(r.Created) {
		return nil, false, nil
	}
	return &Snapshot{Key: key, Created: r.Created, Expires: exp, Meta: r.Meta, Values: r.Values}, false, nil
}
