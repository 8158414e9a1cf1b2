package sessions

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/internal/core"
)

// Per-user sessions: "log out everywhere", "log out other devices",
// back-channel logout. A session is bound to a user with SetUser; the
// binding lives in the record, and the driver's UserIndexer keeps an index
// user → sessions in the backend itself, so the Manager finds a user's
// sessions without scanning the store, from any process sharing it. The
// engine keeps the index consistent (internal/core/userindex.go).

// ErrNoUserIndex is returned by the per-user operations when the driver
// cannot keep a per-user index (it does not implement UserIndexer).
var ErrNoUserIndex = core.ErrNoUserIndex

// maxUserAgent bounds the user agent recorded by SetUser.
const maxUserAgent = 512

// SessionInfo describes one of a user's sessions, for a "your devices"
// page or an admin tool. It never holds the raw session ID.
type SessionInfo struct {
	// IDHash is the session's store key: stable, safe to show and to pass
	// back to RevokeSession. Compare it with IDHash(c) to mark the
	// current session.
	IDHash string
	// Created is when the session started; LastSeen is when its idle
	// deadline was last extended (accurate to within TouchInterval);
	// Expires is when it ends unless used again.
	Created, LastSeen, Expires time.Time
	// IP and UserAgent are the client's, as recorded by SetUser.
	IP, UserAgent string
}

// UserSessions lists the live sessions bound to userID, most recently used
// first, from any process sharing the backend. Index entries whose session
// is gone or bound to another user are pruned on the way. With a driver
// that keeps no per-user index it returns ErrNoUserIndex.
func (m *Manager) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	snaps, err := m.eng.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(snaps))
	for _, snap := range snaps {
		last := snap.Expires.Add(-m.cfg.Lifetime)
		if last.Before(snap.Created) {
			last = snap.Created
		}
		out = append(out, SessionInfo{IDHash: snap.Key, Created: snap.Created, LastSeen: last, Expires: snap.Expires,
			IP: snap.Meta.IP, UserAgent: snap.Meta.UserAgent})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].LastSeen.After(out[j].LastSeen) })
	return out, nil
}

// RevokeUser ends every session bound to userID, in every process sharing
// the backend, and returns how many it ended: after a password change, or
// an OpenID Connect back-channel logout. A request of a revoked session
// that is in flight cannot bring it back: its save finds the record gone
// and starts a new, anonymous session instead. With a driver that keeps
// no per-user index it returns ErrNoUserIndex.
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	return m.eng.RevokeUser(ctx, userID, "")
}

// RevokeSession ends the one session of userID whose IDHash is idHash, as
// a "log out this device" button does. It reports whether it ended one; a
// session bound to another user is left alone.
func (m *Manager) RevokeSession(ctx context.Context, userID, idHash string) (bool, error) {
	return m.eng.RevokeSession(ctx, userID, idHash)
}

// SetUser binds the request's session to userID (binding again moves it
// to the new user; "" unbinds it) and records the client's IP and user
// agent for UserSessions. Call it right after Refresh at login. The
// binding and the index entry are saved with the session.
func SetUser(c *gin.Context, userID string) error {
	var err error
	if !withSession(c, func(s *session) {
		if s.state == failed {
			err = &core.Error{Op: "set user", Kind: core.KindStore, Err: errors.New("the session could not be loaded")}
			return
		}
		meta := s.CurrentMeta()
		meta.User = userID
		meta.IP, meta.UserAgent = "", ""
		if userID != "" {
			meta.IP = c.ClientIP()
			meta.UserAgent = c.Request.UserAgent()
			if len(meta.UserAgent) > maxUserAgent {
				meta.UserAgent = meta.UserAgent[:maxUserAgent]
			}
		}
		s.beginChange()
		s.Delta.Bind(meta)
	}) {
		return ErrNoMiddleware
	}
	return err
}

// User returns the user the request's session is bound to, or "".
func User(c *gin.Context) string {
	var u string
	withSession(c, func(s *session) { u = s.CurrentMeta().User })
	return u
}

// IDHash returns the store key of the request's session, as
// SessionInfo.IDHash shows it, or "" when the request has no session: the
// way a "your devices" page marks the current device without handling the
// raw ID.
func IDHash(c *gin.Context) string {
	var key string
	withSession(c, func(s *session) { key = s.Key })
	return key
}

// RevokeOtherSessions ends every other session of the user the request's
// session is bound to, keeping this one ("log out other devices"), and
// returns how many it ended. It returns an error when the session is not
// bound to a user or not saved yet.
func RevokeOtherSessions(c *gin.Context) (int, error) {
	s := sessionOf(c)
	if s == nil {
		return 0, ErrNoMiddleware
	}
	user := User(c)
	s.mu.Lock()
	s.open()
	key, exists := s.Key, s.Exists
	s.mu.Unlock()
	if user == "" || !exists {
		return 0, &core.Error{Op: "revoke other sessions", Kind: core.KindNoSession, Err: errors.New("the session is not bound to a user, or not saved yet")}
	}
	return s.m.eng.RevokeUser(core.Detach(c.Request.Context()), user, key)
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
