//go:build !race

// Allocation counts are only meaningful without the race detector; make
// test runs this in a pass of its own without -race.

package core

import (
	"context"
	"testing"
)

// TestDetachLooksUpWithoutAllocating: the point of Detach over
// context.WithoutCancel.
func TestDetachLooksUpWithoutAllocating(t *testing.T) {
	d := Detach(context.WithValue(context.Background(), detachKey{}, "v"))
	if n := testing.AllocsPerRun(100, func() { _ = d.Value(detachKey{}) }); n != 0 {
		t.Fatalf("a value lookup allocates %v times", n)
	}
}
