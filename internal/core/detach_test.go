package core

import (
	"context"
	"testing"
	"time"
)

type detachKey struct{}

// TestDetach: a detached context keeps the values and never ends.
func TestDetach(t *testing.T) {
	parent, cancel := context.WithTimeout(context.WithValue(context.Background(), detachKey{}, "v"), time.Hour)
	d := Detach(parent)
	cancel()
	if d.Err() != nil || d.Done() != nil {
		t.Fatal("the detached context ended with its parent")
	}
	if _, ok := d.Deadline(); ok {
		t.Fatal("the detached context has its parent's deadline")
	}
	if d.Value(detachKey{}) != "v" {
		t.Fatal("the detached context lost its parent's values")
	}
}
