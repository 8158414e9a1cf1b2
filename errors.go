package sessions

import "github.com/ginkit/sessions/internal/core"

// Errors returned by the helpers and the Manager. Store errors carry the
// operation that failed ("sessions: save: redis: save: …") and can be
// matched with errors.Is against the driver's own errors. No error ever
// holds a session ID, a value or a password.
var (
	// ErrNoMiddleware is returned (or added to c.Errors) when a helper is
	// used on a request that did not pass through a Manager's Handler.
	// Its text is "sessions: no session middleware on this route
	// (router.Use(sessions.FromEnv()))"; ErrorType gives "config".
	ErrNoMiddleware = core.ErrNoMiddleware

	// ErrConflict is returned when a save lost the race against other
	// requests of the same session more times in a row than the retry
	// limit allows. Nothing was written. ErrorType gives "conflict".
	ErrConflict = core.ErrConflict

	// ErrResponseWritten is reported when a request creates or renews a
	// session after its response headers were sent: the new cookie can no
	// longer reach the client, so the change is not saved.
	// Its text is "sessions: save: the response headers were already
	// sent, …"; ErrorType gives "headers_sent".
	ErrResponseWritten = core.ErrHeadersSent
)
