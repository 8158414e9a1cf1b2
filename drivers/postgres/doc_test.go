package postgres

import (
	"strings"
	"testing"

	"github.com/ginkit/sessions/internal/sqlstore"
	"github.com/ginkit/sessions/internal/sqlstore/sqltest"
)

// TestDocSchema: the schema doc.go prints is, byte for byte, the DDL the
// Driver executes for the default table name (after the advisory lock
// that serialises it).
func TestDocSchema(t *testing.T) {
	schema := statements(DefaultTable, DefaultTable+sqlstore.UsersSuffix).Schema
	if len(schema) != 1 || !strings.HasPrefix(schema[0], schemaLockStatement+"\n") {
		t.Fatalf("the schema is not one message starting with the advisory lock: %q", schema)
	}
	sqltest.DocSchema(t, "doc.go", strings.TrimPrefix(schema[0], schemaLockStatement+"\n"))
}

// TestDocMethods: go doc of Driver lists every method of the contract,
// and Sweep, each with its own doc comment.
func TestDocMethods(t *testing.T) {
	sqltest.DocumentedMethods(t, "Driver", "Sweep")
}
