package core

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestErrorsCarryOnePrefix: however deeply engine errors wrap each other,
// the text starts with "sessions: " once, the cause stays reachable with
// errors.Is, and the kind is the innermost engine error's.
func TestErrorsCarryOnePrefix(t *testing.T) {
	driverErr := errors.New("redis: load: connection refused")
	err := wrap("save", KindStore, wrap("load", KindStore, driverErr))
	if got := err.Error(); got != "sessions: save: load: redis: load: connection refused" {
		t.Fatalf("%q", got)
	}
	if strings.Count(Wrap("refresh", err).Error(), "sessions:") != 1 {
		t.Fatalf("Wrap added a second prefix: %q", Wrap("refresh", err))
	}
	if !errors.Is(err, driverErr) {
		t.Fatal("the driver's error is not reachable")
	}
	if KindOf(wrap("save", KindStore, ErrConflict)) != KindConflict {
		t.Fatal("the inner kind was lost")
	}
}

// TestKindOf: contexts' ends are canceled, foreign errors store, nil none.
func TestKindOf(t *testing.T) {
	for err, want := range map[error]Kind{
		nil:              "",
		context.Canceled: KindCanceled,
		wrap("load", KindStore, context.DeadlineExceeded): KindCanceled,
		errors.New("boom"): KindStore,
		ErrNoUserIndex:     KindNoIndex,
	} {
		if got := KindOf(err); got != want {
			t.Errorf("KindOf(%v) = %q; want %q", err, got, want)
		}
	}
}
