package sessions

import (
	"context"
	"fmt"
	"time"
)

// Snapshot is a read-only copy of one stored session, for tools, admin
// pages and tests that look at a session outside a request. Taking one
// changes nothing in the store.
type Snapshot struct {
	// Key is the session's store key (KeyOf its ID), never the raw ID.
	Key string
	// Created is when the session was first saved; the absolute lifetime
	// runs from it.
	Created time.Time
	// Expires is when the store will expire the session unless it is used.
	Expires time.Time
	// User is the user the session is bound to (SetUser), or "".
	User string
	// IP and UserAgent are the client's, as recorded by SetUser.
	IP, UserAgent string

	values values
	codec  Codec
}

// Snapshot loads the session with the given ID. It returns (nil, nil) if
// the store holds no usable session under it (unknown, expired, past its
// absolute lifetime, or not decodable). During a move (PreviousDSN) it
// also looks in the previous backend, without moving anything.
func (m *Manager) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	if !validID(id) {
		return nil, nil
	}
	return m.snapshotKey(ctx, storeKey(id))
}

func (m *Manager) snapshotKey(ctx context.Context, key string) (*Snapshot, error) {
	rec, _, exp, err := m.driver.Load(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("sessions: load: %w", err)
	}
	if rec == nil && m.prev != nil {
		if rec, _, exp, err = m.prev.Load(ctx, key); err != nil {
			return nil, fmt.Errorf("sessions: load from the previous backend: %w", err)
		}
		if rec == nil {
			// It may have moved between the two looks: look again.
			if rec, _, exp, err = m.driver.Load(ctx, key); err != nil {
				return nil, fmt.Errorf("sessions: load: %w", err)
			}
		}
	}
	if rec == nil {
		return nil, nil
	}
	r, err := m.decode(key, rec)
	if err != nil || m.pastAbsolute(r.created) {
		return nil, nil
	}
	return &Snapshot{Key: key, Created: r.created, Expires: exp, User: r.meta.user, IP: r.meta.ip, UserAgent: r.meta.userAgent,
		values: r.values, codec: m.cfg.Codec}, nil
}

// Keys returns the session's keys, sorted.
func (s *Snapshot) Keys() []string { return s.values.keys() }

// Len returns the number of values in the session.
func (s *Snapshot) Len() int { return len(s.values) }

// SnapshotValue decodes the value under key into a T, as Get does inside a
// request.
func SnapshotValue[T any](s *Snapshot, key string) (T, bool) {
	var v T
	raw, ok := s.values.get(key)
	if !ok || s.codec.Unmarshal(raw, &v) != nil {
		var zero T
		return zero, false
	}
	return v, true
}
