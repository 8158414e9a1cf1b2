package mysql

import (
	"testing"

	"github.com/ginkit/sessions/internal/sqlstore"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// TestDocSchema: the schema doc.go prints is, byte for byte, the DDL the
// Driver executes for the default table name.
func TestDocSchema(t *testing.T) {
	sqltest.DocSchema(t, "doc.go", statements(DefaultTable, DefaultTable+sqlstore.UsersSuffix).Schema...)
}

// TestDocMethods: go doc of Driver lists every method of the contract,
// and Sweep, each with its own doc comment.
func TestDocMethods(t *testing.T) {
	sqltest.DocumentedMethods(t, "Driver", "Sweep")
}
