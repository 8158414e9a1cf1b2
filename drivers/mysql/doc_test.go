package mysql

import (
	"testing"

	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// TestDocMethods: go doc of Driver lists every method of the contract,
// and Sweep, each with its own doc comment.
func TestDocMethods(t *testing.T) {
	sqltest.DocumentedMethods(t, "Driver", "Sweep")
}
