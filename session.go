package sessions

import (
	"context"
	"net/http"
	"time"

	"github.com/ginkit/sessions/internal/core"
)

// The request state machine. One *session per request (the handle, declared
// in gin.go beside the middleware that makes it) holds everything the
// request knows about its session, and every transition lives in this file:
//
//	untouched ──first helper──▶ loaded (a live record) | absent (none, or not usable)
//	loaded/absent ──Set/Delete/Clear──▶ changed (a delta: internal/core/delta.go)
//	changed ──commit──▶ committed (the engine's load-apply-conditional-save, retried on conflict)
//	loaded ──commit, idle deadline stale──▶ touched (expiry extended, data not rewritten)
//
// An untouched session is a 64-byte handle with no sessionData: a request
// that never uses its session allocates nothing more. Nothing touches the
// store until a helper needs the data. Nothing is written unless something
// changed, except a touch when the sliding expiry needs extending. The
// commit runs just before the response headers go out (writer.go), or at
// the end of the handler chain if nothing was written.
type loadState uint8

const (
	untouched loadState = iota // cookie not read, store not asked
	loaded                     // a live record was loaded: exists is true
	absent                     // no usable session: id is "" or a fresh, unsaved one
	failed                     // the store could not answer; reads see nothing, writes retry the load
)

// sessionData is the request's view of its session, once touched.
type sessionData struct {
	state loadState
	wctx  context.Context // writeCtx, once made

	core.State // the record as this request knows it, and its delta

	encodeErr  error // first value that failed to encode: the commit fails with it
	softErr    error // a failed touch: reported, but the response stands
	loadErr    error // the last load failure of this request, for Err(c)
	destroyed  bool  // Destroy ran: expire the cookie unless a new session follows
	sendCookie bool  // the cookie must be (re)sent at the next commit
	cookieHdr  string
}

// open makes the session's data, the first time a helper needs it.
// Called with s.mu held.
func (s *session) open() {
	if s.sessionData == nil {
		s.sessionData = new(sessionData)
	}
}

// opened reports whether a helper has touched the session.
// Called with s.mu held.
func (s *session) opened() bool { return s.sessionData != nil }

// ctx returns the context for store reads: the request's.
func (s *session) readCtx() context.Context { return s.c.Request.Context() }

// writeCtx returns the context for store writes: the request's values
// without its cancellation, so a client that hangs up mid-request does not
// abort a save half-way through a login. It is made on first use: a
// request that writes nothing does not pay for it.
func (s *session) writeCtx() context.Context {
	if s.wctx == nil {
		s.wctx = core.Detach(s.c.Request.Context())
	}
	return s.wctx
}

// ensureLoaded moves an untouched session to loaded, absent or failed.
// Called with s.mu held. It returns the store error, if any.
func (s *session) ensureLoaded() error {
	s.open()
	if s.state != untouched {
		return nil
	}
	id := s.m.tr.requestID(s.c.Request)
	if id == "" {
		s.state = absent
		return nil
	}
	s.SetID(id)
	return s.load(s.readCtx())
}

// load reads the record under s.key. An ID the store does not know, a
// record that does not decode, or one past its absolute lifetime leaves
// the session absent with no ID: strict mode, an unknown ID is never
// adopted, and the visitor gets a fresh one when something is written.
func (s *session) load(ctx context.Context) error {
	found, err := s.m.eng.Load(ctx, &s.State)
	s.loadErr = err
	if err != nil {
		s.state = failed
		s.Fresh = false
		return err
	}
	if !found {
		s.forget()
		return nil
	}
	s.state = loaded
	return nil
}

// forget drops the ID: the session is absent.
func (s *session) forget() {
	s.state = absent
	s.State.Drop()
}

// beginChange prepares for a change: a session without an ID gets a fresh
// one now, so ID() is stable for the rest of the request.
// Called with s.mu held.
func (s *session) beginChange() {
	if s.ID == "" {
		s.newSession()
	}
}

func (s *session) newSession() {
	s.State.StartNew()
	if s.state != failed {
		s.state = absent
	}
}

// commit persists the request's changes, or extends the idle deadline when
// a touch is due, and sets the cookie. Store writes use writeCtx. Called
// with s.mu held.
func (s *session) commit() error {
	if s.encodeErr != nil {
		return s.encodeErr
	}
	if !s.Delta.Empty() {
		if err := s.save(s.writeCtx()); err != nil {
			return err
		}
	} else if s.state == loaded && s.m.eng.TouchDue(&s.State, s.m.cfg.Lifetime) {
		s.touch(s.writeCtx())
	}
	s.writeCookie()
	return nil
}

// save applies the delta to the newest stored record and writes it
// conditionally (the engine's Save), then marks the cookie for sending if
// the client's copy must change. A save after the headers went out cannot
// send one, and tells the engine so.
func (s *session) save(ctx context.Context) error {
	s.beginChange()
	s.NoCookie = s.w.ResponseWriter.Written()
	out, err := s.m.eng.Save(ctx, &s.State, s.m.cfg.Lifetime)
	s.settle(out, err)
	return err
}

// touch extends the idle deadline (the engine's Touch). A failed touch is
// reported but does not fail the response: no change of the user's is
// lost by it.
func (s *session) touch(ctx context.Context) {
	out, err := s.m.eng.Touch(ctx, &s.State, s.m.cfg.Lifetime)
	s.settle(out, err)
	if err != nil {
		s.softErr = err
		return
	}
	if out.Written {
		s.sendCookie = true
	}
}

// settle brings the load state in line with what a save or touch did to
// the State: a failed reload leaves the session failed; otherwise it is
// loaded if a record exists, absent if not.
func (s *session) settle(out core.Outcome, err error) {
	switch {
	case out.ReloadFailed:
		s.state, s.loadErr = failed, err
		return
	case out.Reloaded:
		s.loadErr = nil
	}
	if s.Exists {
		s.state = loaded
	} else if s.state != failed || out.Reloaded {
		s.state = absent
	}
	if out.Written {
		s.sendCookie = s.sendCookie || out.CookieDue
	}
}

// writeCookie sets (or expires) the session's token (the cookie, or a
// header Manager's header) if this request changed what the client must
// hold. It replaces any cookie it set earlier in the same request, so a
// response carries one Set-Cookie for the session. A header client is sent
// the token only when it differs from the one the request carried: a
// header has no expiry to renew.
func (s *session) writeCookie() {
	var (
		id      string
		expires time.Time
		maxAge  int
	)
	switch {
	case s.sendCookie && s.ID != "" && s.Exists:
		id = s.ID
		if s.m.tr.usesHeader() {
			if id == s.m.tr.requestID(s.c.Request) {
				s.sendCookie, s.destroyed = false, false
				return
			}
		} else if !s.m.eng.ExpireOnClose(s.Meta) {
			expires, maxAge = s.Expires, max(1, int((time.Until(s.Expires)+time.Second-1)/time.Second))
		}
	case s.destroyed && !s.Exists:
		expires = time.Unix(0, 0)
	default:
		return
	}
	s.sendCookie = false
	s.destroyed = false
	s.cookieHdr = s.m.tr.send(s.c.Request, s.c.Writer.Header(), s.cookieHdr, id, expires, maxAge)
}

// refresh moves the session to a new ID with the same data and deletes the
// old record, so the old ID is dead. Called with s.mu held.
func (s *session) refresh() error {
	if err := s.ensureLoaded(); err != nil {
		return core.Wrap("refresh", err)
	}
	if s.encodeErr != nil {
		return s.encodeErr
	}
	if s.state == failed {
		if err := s.load(s.readCtx()); err != nil {
			return core.Wrap("refresh", err)
		}
	}
	if !s.Exists {
		// Nothing stored yet (a new visitor): the ID this request will use
		// has never been sent to anyone. Make sure it is a new one.
		if s.ID != "" {
			s.newSession()
		}
		return nil
	}
	if err := s.m.eng.Rekey(s.writeCtx(), &s.State); err != nil {
		return err
	}
	if !s.Exists {
		// The session ended while the request ran (revoked, logged out
		// elsewhere): it was not renewed, and the request goes on as a new,
		// anonymous session under a fresh ID.
		s.state = absent
		return nil
	}
	s.state = loaded
	s.sendCookie = true
	return nil
}

// destroy deletes the record and schedules the cookie's expiry. A change
// made after Destroy starts a new session under a new ID.
// Called with s.mu held.
func (s *session) destroy() error {
	s.open()
	if s.state == untouched {
		if id := s.m.tr.requestID(s.c.Request); id != "" {
			s.SetID(id)
		}
	}
	if s.Key != "" {
		user := s.Meta.User
		if s.Delta.Meta != nil && user == "" {
			user = s.Delta.Meta.User
		}
		if err := s.m.eng.Destroy(s.writeCtx(), s.Key, user); err != nil {
			return core.Wrap("destroy", err)
		}
	}
	s.forget()
	s.Delta.Reset()
	s.encodeErr = nil
	s.destroyed = true
	return nil
}

// finalCommit runs once, just before the response headers go out (or at
// the end of the chain). If it fails while the response would still claim
// success, the response becomes a 500.
func (s *session) finalCommit() {
	s.mu.Lock()
	if s.final {
		s.mu.Unlock()
		return
	}
	s.final = true
	if !s.opened() {
		s.mu.Unlock()
		return
	}
	var err error
	if s.state != untouched || s.destroyed || !s.Delta.Empty() {
		err = s.commit()
	}
	if err != nil {
		// The response reports the failure (below, or by its own error
		// status): what this request changed is dropped, never saved
		// behind the client's back by the end-of-chain commit.
		s.Delta.Reset()
		s.encodeErr = nil
	}
	soft := s.takeSoftErr()
	s.mu.Unlock()
	if soft != nil {
		s.m.warn(s.c, soft)
	}
	if err == nil {
		return
	}
	s.m.report(s.c, err)
	w := s.w.ResponseWriter
	if w.Written() || w.Status() >= 400 {
		return
	}
	s.failedSave = true
	s.m.eng.CountFailedResponse()
	h := w.Header()
	for _, name := range []string{"Location", "Content-Length", "Content-Disposition", "Content-Encoding", "Etag", "Last-Modified"} {
		h.Del(name)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.WriteString(http.StatusText(http.StatusInternalServerError) + ": the session could not be saved\n")
}

// lateCommit runs at the end of the chain when the headers are already
// out: changes made after the response was written are still saved if the
// client already holds the session's cookie.
func (s *session) lateCommit() {
	s.mu.Lock()
	if !s.opened() {
		s.mu.Unlock()
		return
	}
	var err error
	if !s.Delta.Empty() || s.encodeErr != nil {
		if s.ID == "" || !s.Exists {
			err = ErrResponseWritten
		} else {
			err = s.commit()
		}
	}
	soft := s.takeSoftErr()
	s.mu.Unlock()
	if soft != nil {
		s.m.warn(s.c, soft)
	}
	if err != nil {
		s.m.report(s.c, err)
	}
}

// takeSoftErr returns and clears the pending soft error.
// Called with s.mu held; the caller reports it after unlocking, so an
// error handler may use the helpers.
func (s *session) takeSoftErr() error {
	err := s.softErr
	s.softErr = nil
	return err
}

// keys returns the keys this request sees, sorted.
func (s *session) keys() []string {
	values, _ := s.Delta.Apply(s.Base) // no update is ever pending here
	return values.Keys()
}
