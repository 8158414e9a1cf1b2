package core

import (
	"testing"

	"github.com/ginkit/sessions/internal/docmap"
)

// TestFileMap keeps the package comment's file map (in engine.go) in step
// with the package's files.
func TestFileMap(t *testing.T) { docmap.Check(t, "engine.go") }
