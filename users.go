package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
)

// Per-user sessions: "log out everywhere", "log out other devices",
// back-channel logout. A session is bound to a user with SetUser; the
// binding lives in the record, and the driver's UserIndexer keeps an index
// user → sessions in the backend itself, so the Manager finds a user's
// sessions without scanning the store, from any process sharing it.
//
// The index is kept consistent by the core: a session is entered before
// its record is written and the entry outlives the session's idle deadline
// (it is renewed, by a full save, when a session would outlive it); Refresh
// moves the entry to the new ID; Destroy and revocation remove it; entries
// whose session expired, or was bound to someone else since, are pruned
// whenever the index is read.

// ErrNoUserIndex is returned by the per-user operations when the driver
// cannot keep a per-user index (it does not implement UserIndexer).
var ErrNoUserIndex = errors.New("sessions: the session driver keeps no per-user index (it does not implement sessions.UserIndexer)")

// maxUserAgent bounds the user agent recorded by SetUser.
const maxUserAgent = 512

// SessionInfo describes one of a user's sessions, for a "your devices"
// page or an admin tool. It never holds the raw session ID.
type SessionInfo struct {
	// IDHash is the session's store key, KeyOf(ID): stable, safe to show
	// and to pass back to RevokeSession. Compare it with
	// KeyOf(ID(c)) to mark the current session.
	IDHash string
	// Created is when the session started; LastSeen is when its idle
	// deadline was last extended (accurate to within TouchInterval);
	// Expires is when it ends unless used again.
	Created, LastSeen, Expires time.Time
	// IP and UserAgent are the client's, as recorded by SetUser.
	IP, UserAgent string
}

// userKey derives the index key of a user ID: its hash, so user IDs (often
// e-mail addresses) never appear in the store's key space.
func userKey(userID string) string {
	sum := sha256.Sum256([]byte("ginkit/sessions user\x00" + userID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// indexers returns the user indexes to consult: the current backend's and,
// during a move, the previous one's.
func (m *Manager) indexers() []UserIndexer {
	out := make([]UserIndexer, 0, 2)
	if m.index != nil {
		out = append(out, m.index)
	}
	if pi, ok := m.prev.(UserIndexer); ok && m.prev != nil {
		out = append(out, pi)
	}
	return out
}

// indexFor enters key in meta.user's index when the binding is new (the
// record had oldUser) or the entry would expire before the deadline a save
// at now with ttl sets, and records the entry's expiry in meta.
func (m *Manager) indexFor(ctx context.Context, key string, meta *recordMeta, oldUser string, now time.Time, ttl time.Duration) error {
	if meta.user == "" || m.index == nil {
		meta.indexedUntil = time.Time{}
		return nil
	}
	if meta.user == oldUser && meta.indexedUntil.After(now.Add(ttl)) {
		return nil
	}
	until := now.Add(ttl + m.cfg.Lifetime)
	if err := m.index.IndexUser(ctx, userKey(meta.user), key, until); err != nil {
		return fmt.Errorf("sessions: save: user index: %w", err)
	}
	meta.indexedUntil = until
	return nil
}

// unindex removes key from user's index in every backend, best effort: a
// stale entry is harmless and pruned when the index is next read.
func (m *Manager) unindex(ctx context.Context, userID, key string) {
	for _, ix := range m.indexers() {
		if err := ix.UnindexUser(ctx, userKey(userID), key); err != nil {
			m.cfg.Logger.Debug("sessions: removing a user index entry failed; it is pruned later", "key", key, "error", err)
		}
	}
}

// userKeys returns the union of userID's index entries in every backend.
func (m *Manager) userKeys(ctx context.Context, userID string) ([]string, error) {
	ixs := m.indexers()
	if m.index == nil {
		return nil, ErrNoUserIndex
	}
	seen := map[string]bool{}
	var keys []string
	for _, ix := range ixs {
		ks, err := ix.UserKeys(ctx, userKey(userID))
		if err != nil {
			return nil, fmt.Errorf("sessions: user index: %w", err)
		}
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys, nil
}

// UserSessions lists the live sessions bound to userID, most recently used
// first, from any process sharing the backend. Index entries whose session
// is gone or bound to another user are pruned on the way. With a driver
// that keeps no per-user index it returns ErrNoUserIndex.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	keys, err := m.userKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(keys))
	for _, key := range keys {
		snap, err := m.snapshotKey(ctx, key)
		if err != nil {
			return nil, err
		}
		if snap == nil || snap.User != userID {
			m.unindex(ctx, userID, key)
			continue
		}
		last := snap.Expires.Add(-m.cfg.Lifetime)
		if last.Before(snap.Created) {
			last = snap.Created
		}
		out = append(out, SessionInfo{IDHash: key, Created: snap.Created, LastSeen: last, Expires: snap.Expires, IP: snap.IP, UserAgent: snap.UserAgent})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, nil
}

// RevokeUser ends every session bound to userID, in every process sharing
// the backend, and returns how many it ended. A request of a revoked
// session that is in flight cannot bring it back: its save finds the record
// gone and starts a new, anonymous session instead. With a driver that
// keeps no per-user index it returns ErrNoUserIndex.
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	return m.RevokeUserExcept(ctx, userID, "")
}

// RevokeUserExcept is RevokeUser that keeps the session whose IDHash is
// keep ("log out other devices"; see also RevokeOtherSessions).
func (m *Manager) RevokeUserExcept(ctx context.Context, userID, keep string) (int, error) {
	keys, err := m.userKeys(ctx, userID)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, key := range keys {
		if key == keep {
			continue
		}
		snap, err := m.snapshotKey(ctx, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if snap != nil && snap.User != userID {
			m.unindex(ctx, userID, key) // rebound to someone else: not theirs to end
			continue
		}
		if err := m.deleteStored(ctx, key, userID); err != nil {
			errs = append(errs, err)
			continue
		}
		if snap != nil {
			n++
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("sessions: revoke: %d of %d sessions could not be ended: %w", len(errs), len(keys), errors.Join(errs...))
	}
	return n, nil
}

// RevokeSession ends the one session of userID whose IDHash is idHash, as
// a "log out this device" button does. It reports whether it ended one.
func (m *Manager) RevokeSession(ctx context.Context, userID, idHash string) (bool, error) {
	snap, err := m.snapshotKey(ctx, idHash)
	if err != nil || snap == nil || snap.User != userID {
		return false, err
	}
	if err := m.deleteStored(ctx, idHash, userID); err != nil {
		return false, err
	}
	return true, nil
}

// SetUser binds the request's session to userID (binding again moves it
// to the new user; "" unbinds it) and records the client's IP and user
// agent for UserSessions. Call it right after Refresh at login. The
// binding and the index entry are saved with the session.
func SetUser(c *gin.Context, userID string) error {
	var err error
	if !withSession(c, func(s *session) {
		if s.state == failed {
			err = errors.New("sessions: set user: the session could not be loaded")
			return
		}
		meta := s.meta
		if s.d.meta != nil {
			meta = *s.d.meta
		}
		meta.user = userID
		meta.ip, meta.userAgent = "", ""
		if userID != "" {
			meta.ip = c.ClientIP()
			meta.userAgent = c.Request.UserAgent()
			if len(meta.userAgent) > maxUserAgent {
				meta.userAgent = meta.userAgent[:maxUserAgent]
			}
		}
		s.beginChange()
		s.d.meta = &meta
	}) {
		return ErrNoMiddleware
	}
	return err
}

// User returns the user the request's session is bound to, or "".
func User(c *gin.Context) string {
	var u string
	withSession(c, func(s *session) {
		u = s.meta.user
		if s.d.meta != nil {
			u = s.d.meta.user
		}
	})
	return u
}

// RevokeOtherSessions ends every other session of the user the request's
// session is bound to, keeping this one ("log out other devices"), and
// returns how many it ended. It returns an error when the session is not
// bound to a user.
func RevokeOtherSessions(c *gin.Context) (int, error) {
	s := sessionOf(c)
	if s == nil {
		return 0, ErrNoMiddleware
	}
	user := User(c)
	s.mu.Lock()
	s.open()
	key, exists := s.key, s.exists
	s.mu.Unlock()
	if user == "" || !exists {
		return 0, errors.New("sessions: revoke other sessions: this session is not bound to a user (SetUser) or not saved yet")
	}
	return s.m.RevokeUserExcept(context.WithoutCancel(c.Request.Context()), user, key)
}

// ManagerOf returns the Manager whose middleware serves the request, or
// nil on a route without one: for handlers that need the per-user
// operations (UserSessions, RevokeSession) while set up with FromEnv.
func ManagerOf(c *gin.Context) *Manager {
	if s := sessionOf(c); s != nil {
		return s.m
	}
	return nil
}
