package suite

import (
	"testing"

	"github.com/ginkit/sessions/internal/docmap"
)

// TestFileMap keeps the package comment's file map (in counting.go) in
// step with the package's files.
func TestFileMap(t *testing.T) { docmap.Check(t, "counting.go") }
