//go:build !race

// Allocation counts are only meaningful without the race detector, which
// empties sync.Pools at random (gin keeps its Contexts in one); make test
// runs these in a pass of their own without -race.

package otelsessions_test

import (
	"net/http/httptest"
	"testing"

	"github.com/ginkit/sessions/otelsessions"
	"github.com/stretchr/testify/assert"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestUnsampledRequestsAddNoAllocation: under a span that is not
// recording (a trace not sampled), the observer adds no allocation to
// /none, /read or /write, the histogram included, and makes no span.
func TestUnsampledRequestsAddNoAllocation(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	observed := newApp(t, otelsessions.New(otelsessions.WithTracerProvider(tp), otelsessions.WithMeterProvider(mp)), tp)
	plain := newApp(t, nil, tp)
	for _, route := range []string{"/none", "/read", "/write"} {
		allocs := map[string]float64{}
		for name, a := range map[string]*app{"observed": observed, "plain": plain} {
			prev := a.do("/write", nil)
			req := httptest.NewRequest("GET", route, nil)
			for _, c := range prev.Cookies() {
				req.AddCookie(c)
			}
			allocs[name] = testing.AllocsPerRun(200, func() { a.r.ServeHTTP(httptest.NewRecorder(), req) })
		}
		assert.Equal(t, allocs["plain"], allocs["observed"], "%s: allocations with the OpenTelemetry observer on an unsampled request", route)
	}
	assert.Empty(t, rec.Ended(), "an unsampled request makes no span")
}
