package sessions

import "errors"

// Errors returned by the helpers and the Manager. Store errors are wrapped
// with context ("sessions: save: redis: save: …") and can be
// matched with errors.Is against the driver's own errors.
var (
	// ErrNoMiddleware is returned (or added to c.Errors) when a helper is
	// used on a request that did not pass through a Manager's Handler.
	ErrNoMiddleware = errors.New("sessions: no session middleware on this route (router.Use(sessions.FromEnv()))")

	// ErrConflict is returned when a save lost the race against other
	// requests of the same session more times in a row than the retry
	// limit allows. Nothing was written.
	ErrConflict = errors.New("sessions: save: too many concurrent writers to this session; nothing was written")

	// ErrResponseWritten is reported when a request creates or renews a
	// session after its response headers were sent: the new cookie can no
	// longer reach the client, so the change is not saved.
	ErrResponseWritten = errors.New("sessions: save: the response headers were already sent, so the session cookie could not be set")
)
