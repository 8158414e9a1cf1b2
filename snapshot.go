package sessions

import (
	"context"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// Snapshot is a read-only copy of one stored session, for tools, admin
// pages and tests that look at a session outside a request. Taking one
// changes nothing in the store.
type Snapshot struct {
	// Key is the session's store key (a hash of its ID), never the raw ID.
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

	values core.Values
	codec  Codec
}

// Snapshot loads the session with the given ID, for tools, admin pages
// and tests. It returns (nil, nil) if the store holds no usable session
// under it (unknown, expired, past its absolute lifetime, or not
// decodable). During a move (PreviousDSN) it also looks in the previous
// backend, without moving anything.
func (m *Manager) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	if !core.ValidID(id) {
		return nil, nil
	}
	snap, err := m.eng.Snapshot(ctx, core.StoreKey(id))
	if snap == nil || err != nil {
		return nil, err
	}
	return &Snapshot{Key: snap.Key, Created: snap.Created, Expires: snap.Expires, User: snap.Meta.User,
		IP: snap.Meta.IP, UserAgent: snap.Meta.UserAgent, values: snap.Values, codec: m.cfg.Codec}, nil
}

// Keys returns the session's keys, sorted.
func (s *Snapshot) Keys() []string { return s.values.Keys() }

// Len returns the number of values in the session.
func (s *Snapshot) Len() int { return len(s.values) }

// SnapshotValue decodes the value under key into a T, as Get does inside a
// request.
func SnapshotValue[T any](s *Snapshot, key string) (T, bool) {
	var v T
	raw, ok := s.values.Get(key)
	if !ok || s.codec.Unmarshal(raw, &v) != nil {
		var zero T
		return zero, false
	}
	return v, true
}
