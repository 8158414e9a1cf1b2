//go:build !race

// Allocation counts are only meaningful without the race detector, which
// empties sync.Pools at random (gin keeps its Contexts in one); make test
// runs these in a pass of their own without -race.

package sessions_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ginkit/sessions"
)

// nopObserver observes and does nothing.
type nopObserver struct{}

func (nopObserver) OperationStart(ctx context.Context, _ sessions.Op, _ string) context.Context {
	return ctx
}
func (nopObserver) OperationEnd(context.Context, sessions.Event) {}

// TestObserverCostsNoAllocation: an Observer that allocates nothing itself
// adds no allocation to /none, /read or /write, so the path without one,
// which does strictly less (a nil check), adds none either.
func TestObserverCostsNoAllocation(t *testing.T) {
	for _, route := range []string{"/none", "/read", "/write"} {
		allocs := map[string]float64{}
		for name, obs := range map[string]sessions.Observer{"none": nil, "nop": nopObserver{}} {
			_, r := observedApp(t, obs, nil)
			prev := do(r, "GET", "/write", nil)
			req := httptest.NewRequest("GET", route, nil)
			for _, c := range prev.Cookies() {
				req.AddCookie(c)
			}
			allocs[name] = testing.AllocsPerRun(200, func() {
				r.ServeHTTP(httptest.NewRecorder(), req)
			})
		}
		assert.Equal(t, allocs["none"], allocs["nop"], "%s: allocations with a no-op Observer vs none", route)
	}
}
