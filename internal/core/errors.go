package core

import (
	"context"
	"errors"
	"strings"
)

// Kind classifies an error of the engine in a short, low-cardinality word,
// fit for a metric attribute (OpenTelemetry's error.type) or a log field.
type Kind string

// The kinds of error the engine returns.
const (
	KindStore       Kind = "store"        // the backend failed or did not answer in time
	KindCanceled    Kind = "canceled"     // the caller's context ended
	KindConflict    Kind = "conflict"     // too many concurrent writers; nothing was written
	KindOversize    Kind = "oversize"     // over Config.MaxRecordSize or Config.MaxKeys
	KindEncode      Kind = "encode"       // a value the Codec could not encode
	KindDecode      Kind = "decode"       // a stored value that is not of the type asked for
	KindExpired     Kind = "expired"      // the session passed its absolute lifetime
	KindNoIndex     Kind = "no_index"     // the driver keeps no per-user index
	KindNoSession   Kind = "no_session"   // the operation needs a stored session
	KindHeadersSent Kind = "headers_sent" // the cookie could not reach the client any more
	KindUnsupported Kind = "unsupported"  // the driver lacks an optional capability
	KindConfig      Kind = "config"       // the configuration does not allow the operation
)

// Error is an error of the engine: the operation that failed, its kind and
// its cause. Its text carries the "sessions:" prefix once, however deeply
// engine errors wrap each other ("sessions: save: load: redis: load: …"),
// and never a session ID, a value or a password.
type Error struct {
	Op   string // "load", "save", "touch", "refresh", "destroy", "revoke", "move", …; may be empty
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("sessions: ")
	e.write(&b)
	return b.String()
}

func (e *Error) write(b *strings.Builder) {
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if inner, ok := e.Err.(*Error); ok {
		inner.write(b)
		return
	}
	b.WriteString(e.Err.Error())
}

// Unwrap returns the cause, so errors.Is finds a driver's own errors.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err: the outermost engine Error's, KindCanceled
// for a context's end, or "" for nil. Any other error is KindStore.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Kind != "" {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return KindCanceled
	}
	return KindStore
}

// wrap makes err the cause of a failed op. Its kind is the cause's when
// the cause is an engine Error, else kind.
func wrap(op string, kind Kind, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind != "" {
		kind = e.Kind
	} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		kind = KindCanceled
	}
	return &Error{Op: op, Kind: kind, Err: err}
}

// fail makes a new engine error with a fixed text.
func fail(op string, kind Kind, text string) error {
	return &Error{Op: op, Kind: kind, Err: errors.New(text)}
}

// Sentinel errors, re-exported by package sessions.
var (
	// ErrConflict: a save lost the race against other requests of the same
	// session more times in a row than the retry limit allows.
	ErrConflict = fail("save", KindConflict, "too many concurrent writers to this session; nothing was written")

	// ErrNoUserIndex: the driver does not implement driver.UserIndexer.
	ErrNoUserIndex = fail("user index", KindNoIndex, "the driver keeps no per-user index")

	// ErrNoMiddleware: a helper was used on a request that did not pass
	// through a Manager's Handler.
	ErrNoMiddleware = fail("", KindConfig, "no session middleware on this route (router.Use(sessions.FromEnv()))")

	// ErrHeadersSent: a request created or renewed a session after its
	// response headers were sent, so the new cookie could not be set.
	ErrHeadersSent = fail("save", KindHeadersSent, "the response headers were already sent, so the session cookie could not be set")
)

// Wrap makes err the cause of a failed op, for callers outside the
// engine: its kind is err's (KindOf), and its text carries the
// "sessions:" prefix once.
func Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return wrap(op, KindStore, err)
}
