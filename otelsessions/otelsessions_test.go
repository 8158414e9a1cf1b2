package otelsessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/otelsessions"
)

// app is a Manager over its own memory driver with the given Observer,
// behind a Gin engine whose requests run under a span of tp (a stand-in
// for otelgin) when tp is not nil.
type app struct {
	m   *sessions.Manager
	r   *gin.Engine
	mem *memory.Driver
}

func newApp(t testing.TB, obs sessions.Observer, tp trace.TracerProvider) *app {
	gin.SetMode(gin.TestMode)
	mem := memory.New(memory.Options{})
	t.Cleanup(func() { _ = mem.Close(context.Background()) })
	cfg := sessions.DefaultConfig()
	cfg.Driver = mem
	cfg.Observer = obs
	cfg.ErrorHandler = func(*gin.Context, error) {}
	m, err := sessions.NewManager(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	r := gin.New()
	if tp != nil {
		tracer := tp.Tracer("test")
		r.Use(func(c *gin.Context) {
			ctx, span := tracer.Start(c.Request.Context(), "GET "+c.FullPath())
			defer span.End()
			c.Request = c.Request.WithContext(ctx)
			c.Next()
		})
	}
	r.Use(m.Handler())
	r.GET("/none", func(c *gin.Context) { c.Status(204) })
	r.GET("/read", func(c *gin.Context) { sessions.GetOr(c, "n", 0); c.Status(204) })
	r.GET("/write", func(c *gin.Context) { sessions.Set(c, "n", sessions.GetOr(c, "n", 0)+1); c.Status(204) })
	return &app{m: m, r: r, mem: mem}
}

// do runs one request with the cookies of prev, if any.
func (a *app) do(path string, prev *http.Response) *http.Response {
	req := httptest.NewRequest("GET", path, nil)
	if prev != nil {
		for _, c := range prev.Cookies() {
			req.AddCookie(c)
		}
	}
	rec := httptest.NewRecorder()
	a.r.ServeHTTP(rec, req)
	return rec.Result()
}

// collect reads the metrics of reader.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func attrs(set attribute.Set) map[string]string {
	out := map[string]string{}
	for _, kv := range set.ToSlice() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// TestDurationHistogram: every operation is recorded in the histogram
// under its operation and backend; error.type appears only on failures.
func TestDurationHistogram(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	a := newApp(t, otelsessions.New(otelsessions.WithMeterProvider(mp)), nil)
	w := a.do("/write", nil)
	a.do("/read", w)
	require.NoError(t, a.mem.Close(context.Background()))
	assert.Equal(t, 500, a.do("/write", w).StatusCode)

	h, ok := collect(t, reader)["ginkit.session.operation.duration"].(metricdata.Histogram[float64])
	require.True(t, ok, "the histogram is recorded")
	got := map[string]uint64{}
	for _, dp := range h.DataPoints {
		at := attrs(dp.Attributes)
		assert.Equal(t, "memory", at["ginkit.session.backend"])
		got[at["ginkit.session.operation"]+"/"+at["error.type"]] += dp.Count
		assert.Greater(t, dp.Sum, 0.0)
	}
	assert.Equal(t, map[string]uint64{"save/": 1, "load/": 1, "load/store": 1, "save/store": 1}, got)
}

// TestSpans: operations are spans under the request's span, with the
// backend, the result and a save's attempts; a failure has status Error
// and error.type; no attribute holds the session ID.
func TestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	a := newApp(t, otelsessions.New(otelsessions.WithTracerProvider(tp)), tp)
	w := a.do("/write", nil)
	id := w.Cookies()[0].Value
	a.do("/read", w)
	require.NoError(t, a.mem.Close(context.Background()))
	a.do("/read", w)

	var names []string
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range rec.Ended() {
		if !strings.HasPrefix(s.Name(), "ginkit.session.") {
			continue
		}
		names = append(names, s.Name())
		parent, ok := byID[s.Parent().SpanID()]
		require.True(t, ok, "%s has the request's span as parent", s.Name())
		assert.True(t, strings.HasPrefix(parent.Name(), "GET "), "%s's parent is %s", s.Name(), parent.Name())
		at := map[string]string{}
		for _, kv := range s.Attributes() {
			at[string(kv.Key)] = kv.Value.String()
			assert.NotContains(t, kv.Value.String(), id, "no attribute holds the session ID")
		}
		assert.Equal(t, "memory", at["ginkit.session.backend"])
		switch s.Name() {
		case "ginkit.session.save":
			assert.Equal(t, "written", at["ginkit.session.result"])
			assert.Equal(t, "1", at["ginkit.session.attempts"])
		case "ginkit.session.load":
			if s.Status().Code == codes.Error {
				assert.Equal(t, "store", at["error.type"])
				assert.Equal(t, "error", at["ginkit.session.result"])
			} else {
				assert.Equal(t, "hit", at["ginkit.session.result"])
			}
		}
	}
	assert.Equal(t, []string{"ginkit.session.save", "ginkit.session.load", "ginkit.session.load"}, names)
}

// TestUnsampledRequestsMakeNoSpan: under a span that is not recording (a
// trace not sampled), no session span is made.
func TestUnsampledRequestsMakeNoSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	a := newApp(t, otelsessions.New(otelsessions.WithTracerProvider(tp)), tp)
	a.do("/read", a.do("/write", nil))
	assert.Empty(t, rec.Ended(), "an unsampled request makes no span")
}

// TestRegisterStats: the counters read the Manager's Stats at collection.
func TestRegisterStats(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	a := newApp(t, nil, nil)
	stop, err := otelsessions.RegisterStats(a.m, otelsessions.WithMeterProvider(mp))
	require.NoError(t, err)
	defer stop()
	w := a.do("/write", nil)
	a.do("/read", w)
	a.do("/read", w)
	data := collect(t, reader)
	sum := func(name string, want map[string]string) int64 {
		s, ok := data[name].(metricdata.Sum[int64])
		require.True(t, ok, name)
		var n int64
		for _, dp := range s.DataPoints {
			at := attrs(dp.Attributes)
			match := at["ginkit.session.backend"] == "memory"
			for k, v := range want {
				match = match && at[k] == v
			}
			if match {
				n += dp.Value
			}
		}
		return n
	}
	assert.Equal(t, int64(2), sum("ginkit.session.lookups", map[string]string{"ginkit.session.result": "hit"}))
	assert.Equal(t, int64(0), sum("ginkit.session.lookups", map[string]string{"ginkit.session.result": "miss"}))
	assert.Equal(t, int64(1), sum("ginkit.session.saves", nil))
	assert.Equal(t, int64(0), sum("ginkit.session.unreadable", nil), "the counter is registered, at zero")
}

// BenchmarkObserver compares a request through the middleware with no
// Observer, with otelsessions on an unsampled trace, and on a sampled one.
func BenchmarkObserver(b *testing.B) {
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	sampled := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	for _, c := range []struct {
		name string
		obs  sessions.Observer
		tp   trace.TracerProvider
	}{
		{"none", nil, unsampled},
		{"otel-unsampled", otelsessions.New(otelsessions.WithMeterProvider(mp), otelsessions.WithTracerProvider(unsampled)), unsampled},
		{"otel-sampled", otelsessions.New(otelsessions.WithMeterProvider(mp), otelsessions.WithTracerProvider(sampled)), sampled},
	} {
		a := newApp(b, c.obs, c.tp)
		for _, route := range []string{"/none", "/read", "/write"} {
			prev := a.do("/write", nil)
			req := httptest.NewRequest("GET", route, nil)
			for _, ck := range prev.Cookies() {
				req.AddCookie(ck)
			}
			b.Run(c.name+route, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a.r.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		}
	}
}
