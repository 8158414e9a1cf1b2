package docmap

import (
	"slices"
	"testing"
)

func TestFileMap(t *testing.T) { Check(t, "docmap.go") }

// Listed takes the names of the map's section only, and no path into
// another folder.
func TestListed(t *testing.T) {
	doc := []byte("// Package x does y (see z.go elsewhere).\n//\n// # Files\n//\n//\ta.go     A\n//\tb.go     B (b_fast.go: fast paths; see internal/core/c.go)\n//\n// # Guarantees\n//\n// d.go is not in the map.\npackage x\n")
	got := Listed(doc)
	if want := []string{"a.go", "b.go", "b_fast.go"}; !slices.Equal(got, want) {
		t.Errorf("Listed = %v, want %v", got, want)
	}
	para := []byte("// Package x.\n//\n// Files: a.go the A; b.go and\n// c.go the rest.\npackage x\n")
	if got, want := Listed(para), []string{"a.go", "b.go", "c.go"}; !slices.Equal(got, want) {
		t.Errorf("Listed = %v, want %v", got, want)
	}
}
