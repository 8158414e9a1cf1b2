package sessions_test

import (
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/internal/suite"
)

// The request state machine (session.go) and the handler API over it are
// checked by the middleware suite (internal/suite), which every driver's
// tests run too; here on the in-process drivers.

func TestSessionMemory(t *testing.T) {
	suite.Middleware(t, func(t *testing.T) sessions.Driver { return openDSN(t, "memory://") }, 0)
}

func TestSessionFile(t *testing.T) {
	suite.Middleware(t, func(t *testing.T) sessions.Driver { return openDSN(t, fileDSN(t)) }, 0)
}
