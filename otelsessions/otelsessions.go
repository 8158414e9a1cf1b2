// Package otelsessions reports what github.com/ginkit/sessions does to its
// store through OpenTelemetry: a duration histogram per operation and
// backend, counters built from the Manager's Stats, and spans under the
// request's span.
//
//	cfg := sessions.DefaultConfig()
//	cfg.Observer = otelsessions.New()             // global providers by default
//	m, err := sessions.NewManager(cfg)
//	…
//	stop, err := otelsessions.RegisterStats(m)    // the counters
//	defer stop()
//
// Metrics: the histogram ginkit.session.operation.duration (seconds), with
// the attributes ginkit.session.operation (load, save, touch, refresh,
// destroy, revoke, move), ginkit.session.backend (the DSN's scheme) and,
// on failure only, error.type (sessions.ErrorType: store, conflict,
// oversize, …); and the counters of RegisterStats. Attribute sets are
// computed once per backend, operation and error type, not per call.
//
// Spans: ginkit.session.load, .save, .touch, .refresh, .destroy, .revoke
// and .move, children of the request's span (otelgin makes one) and
// started only when that span is recording, so an unsampled request makes
// none and costs no allocation. They carry the backend, the result and,
// for a save, its attempts and conflicts (each retry also as an event);
// a failure sets status Error with error.type. No attribute ever holds a
// session ID, a store key or a value. The span is in the context the
// driver sees, so an instrumented Redis client's command spans nest under
// it.
//
// It is a module of its own so that applications that do not use it
// compile no OpenTelemetry code.
package otelsessions

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ginkit/sessions"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/ginkit/sessions/otelsessions"

// Attribute keys.
const (
	OperationKey = attribute.Key("ginkit.session.operation")
	BackendKey   = attribute.Key("ginkit.session.backend")
	ResultKey    = attribute.Key("ginkit.session.result")
	AttemptsKey  = attribute.Key("ginkit.session.attempts")
	ConflictsKey = attribute.Key("ginkit.session.conflicts")
	CountKey     = attribute.Key("ginkit.session.count")
	ErrorTypeKey = attribute.Key("error.type")
)

// Option configures New and RegisterStats.
type Option func(*config)

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider sets the MeterProvider; the default is the global one.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithTracerProvider sets the TracerProvider; the default is the global
// one.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

func newConfig(opts []Option) config {
	c := config{mp: otel.GetMeterProvider(), tp: otel.GetTracerProvider()}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ops are the operations, in a fixed order; kinds the error types.
var (
	ops   = []sessions.Op{sessions.OpLoad, sessions.OpSave, sessions.OpTouch, sessions.OpRefresh, sessions.OpDestroy, sessions.OpRevoke, sessions.OpMove}
	kinds = []string{"", "store", "canceled", "conflict", "oversize", "encode", "decode", "expired", "no_index", "no_session", "headers_sent", "unsupported", "config", "other"}
)

func opIndex(op sessions.Op) int {
	for i, o := range ops {
		if o == op {
			return i
		}
	}
	return -1
}

func kindIndex(k string) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return len(kinds) - 1 // "other"
}

// observer is the sessions.Observer New returns.
type observer struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	names    []string // span names, by op index

	mu     sync.RWMutex
	tables map[string]*table // by backend
}

// table holds the precomputed record options of one backend: one per
// operation and error type.
type table struct {
	record  [][][]metric.RecordOption // [op][kind]
	backend attribute.KeyValue
}

// New returns an Observer for Config.Observer that records the duration
// histogram and the spans. An instrument that cannot be created falls back
// to a no-op one (OpenTelemetry reports the error through its handler).
func New(opts ...Option) sessions.Observer {
	c := newConfig(opts)
	meter := c.mp.Meter(ScopeName)
	h, err := meter.Float64Histogram("ginkit.session.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of a session store operation."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		otel.Handle(err)
	}
	o := &observer{tracer: c.tp.Tracer(ScopeName), duration: h, tables: map[string]*table{}}
	for _, op := range ops {
		o.names = append(o.names, "ginkit.session."+string(op))
	}
	return o
}

// tableFor returns backend's table, making it on first use.
func (o *observer) tableFor(backend string) *table {
	o.mu.RLock()
	t := o.tables[backend]
	o.mu.RUnlock()
	if t != nil {
		return t
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if t = o.tables[backend]; t != nil {
		return t
	}
	t = &table{backend: BackendKey.String(backend), record: make([][][]metric.RecordOption, len(ops))}
	for i, op := range ops {
		t.record[i] = make([][]metric.RecordOption, len(kinds))
		for j, k := range kinds {
			attrs := []attribute.KeyValue{OperationKey.String(string(op)), t.backend}
			if k != "" {
				attrs = append(attrs, ErrorTypeKey.String(k))
			}
			t.record[i][j] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
		}
	}
	o.tables[backend] = t
	return t
}

type spanKey struct{}

// OperationStart starts the operation's span when the request's span is
// recording; otherwise it returns ctx unchanged and allocates nothing.
func (o *observer) OperationStart(ctx context.Context, op sessions.Op, backend string) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	i := opIndex(op)
	if i < 0 {
		return ctx
	}
	ctx, span := o.tracer.Start(ctx, o.names[i], trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(OperationKey.String(string(op)), BackendKey.String(backend)))
	return context.WithValue(ctx, spanKey{}, span)
}

// OperationEnd records the duration and ends the span, if one was started.
func (o *observer) OperationEnd(ctx context.Context, ev sessions.Event) {
	i := opIndex(ev.Op)
	if i < 0 {
		return
	}
	t := o.tableFor(ev.Backend)
	if o.duration != nil {
		o.duration.Record(ctx, ev.Duration.Seconds(), t.record[i][kindIndex(ev.ErrorType)]...)
	}
	span, ok := ctx.Value(spanKey{}).(trace.Span)
	if !ok {
		return
	}
	span.SetAttributes(ResultKey.String(ev.Result))
	if ev.Op == sessions.OpSave {
		span.SetAttributes(AttemptsKey.Int(ev.Attempts), ConflictsKey.Int(ev.Conflicts))
		for n := 1; n <= ev.Conflicts; n++ {
			span.AddEvent("retry", trace.WithAttributes(AttemptsKey.Int(n+1)))
		}
	}
	if ev.Op == sessions.OpRevoke || ev.Op == sessions.OpMove {
		span.SetAttributes(CountKey.Int(ev.Count))
	}
	if ev.Err != nil {
		span.SetAttributes(ErrorTypeKey.String(ev.ErrorType))
		span.SetStatus(codes.Error, ev.ErrorType)
	}
	span.End()
}
