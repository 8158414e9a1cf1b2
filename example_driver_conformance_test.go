package sessions_test

import (
	"testing"

	"github.com/ginkit/sessions/sessionstest"
)

// TestMapStoreConformance checks the driver of Example_customDriver with
// the exported conformance suite, as a driver author checks theirs.
func TestMapStoreConformance(t *testing.T) {
	sessionstest.TestDriver(t, func(t *testing.T) sessionstest.Driver { return newMapStore() }, sessionstest.Options{})
}
