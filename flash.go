package sessions

import "github.com/gin-gonic/gin"

// FlashKey is the session key flash messages are kept under when no other
// is given: "_flash", as in gorilla/sessions and gin-contrib/sessions.
const FlashKey = "_flash"

// AddFlash appends value to the session's flash messages under FlashKey,
// or under vars[0] when given (the signature and key of gin-contrib's
// Session.AddFlash). The messages are one value, a []any, encoded with the
// Manager's Codec like any other value, so the gin-contrib adapter
// (contrib.NewStoreFromManager on the same Manager) reads them with its
// Flashes, and this package's Flashes reads the adapter's.
//
// It behaves as Set: a value the Codec cannot encode fails the request's
// save. A value under the key that is not a list of messages is replaced.
// Two overlapping requests that both add flashes change the same key: the
// later save wins.
func AddFlash(c *gin.Context, value any, vars ...string) {
	key := flashKey(vars)
	flashes, _ := Get[[]any](c, key)
	Set(c, key, append(flashes, value))
}

// Flashes returns the session's flash messages under FlashKey, or under
// vars[0] when given, and removes them, as gin-contrib's Session.Flashes
// does; nil when there are none.
//
// The messages come back as []any, with the dynamic types the Codec
// restores: with contrib.GobCodec, the types they were added with (gob.Register
// your own); with JSONCodec, JSON's (a number is a float64, a struct a
// map[string]any). The same record gives the same values through the
// gin-contrib adapter. (A generic Flashes[T] would read JSON typed but
// could not read gob's []any as a []T; one []any reads both codecs the
// same way in both APIs.) A value under the key that is not a list of
// messages is left in place and Flashes reports none.
func Flashes(c *gin.Context, vars ...string) []any {
	flashes, _ := Pop[[]any](c, flashKey(vars))
	return flashes
}

func flashKey(vars []string) string {
	if len(vars) > 0 {
		return vars[0]
	}
	return FlashKey
}
