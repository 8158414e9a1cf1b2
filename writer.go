package sessions

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writer wraps the response writer so the session is committed at the
// latest moment that still lets the response change: just before the
// headers go out. c.JSON, c.String, c.Redirect, c.Stream, c.File, a Flush
// or a Hijack all pass through one of these methods first, so a handler
// never has to call Save.
//
// If that commit fails, finalCommit has already replaced the response with
// a 500, and the handler's own body (which may claim success) is dropped.
type writer struct {
	gin.ResponseWriter
	s *session
}

func (w *writer) beforeHeaders() bool {
	if !w.s.final {
		w.s.finalCommit()
	}
	return !w.s.failedSave
}

// WriteHeader records the status, as gin's writer does; headers are not
// sent yet, so nothing needs committing.
func (w *writer) WriteHeader(code int) {
	if w.s.failedSave {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// WriteHeaderNow commits the session, then sends the headers.
func (w *writer) WriteHeaderNow() {
	if w.beforeHeaders() {
		w.ResponseWriter.WriteHeaderNow()
	}
}

// Write commits the session before the first byte of the body.
func (w *writer) Write(b []byte) (int, error) {
	if !w.beforeHeaders() {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// WriteString commits the session before the first byte of the body.
func (w *writer) WriteString(s string) (int, error) {
	if !w.beforeHeaders() {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush commits the session before anything is flushed to the client.
func (w *writer) Flush() {
	if w.beforeHeaders() {
		w.ResponseWriter.Flush()
	}
}

// Hijack commits the session before the connection is handed over.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.beforeHeaders()
	return w.ResponseWriter.Hijack()
}

// Unwrap returns the writer underneath, as scs and chi's wrappers do, so
// http.NewResponseController reaches what this wrapper does not offer
// itself: SetReadDeadline, SetWriteDeadline and EnableFullDuplex of the
// real connection. Flush and Hijack through a ResponseController still
// come here first and commit the session.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
