package otelsessions

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ginkit/sessions"
)

// RegisterStats registers counters that read m.Stats() whenever the
// metrics are collected, so they cost nothing between scrapes:
//
//	ginkit.session.lookups           loads, by ginkit.session.result (hit, miss, error)
//	ginkit.session.saves             records written
//	ginkit.session.save.conflicts    conditional writes retried after a newer version
//	ginkit.session.touches           idle-deadline extensions
//	ginkit.session.errors            failures, by ginkit.session.operation (load, save, touch)
//	ginkit.session.failed_responses  responses turned into an error by a failed save
//	ginkit.session.ended             sessions ended, by ginkit.session.operation (destroy, revoke)
//	ginkit.session.unreadable        records that did not open or decode, left in place (key rotation)
//
// each with ginkit.session.backend. Call the returned function to
// unregister them (before closing m).
func RegisterStats(m *sessions.Manager, opts ...Option) (unregister func() error, err error) {
	c := newConfig(opts)
	meter := c.mp.Meter(ScopeName)
	backend := BackendKey.String(m.Backend())
	counter := func(name, desc string) (metric.Int64ObservableCounter, error) {
		return meter.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit("{operation}"))
	}
	lookups, err := counter("ginkit.session.lookups", "Session loads, by result.")
	if err != nil {
		return nil, err
	}
	saves, err := counter("ginkit.session.saves", "Session records written.")
	if err != nil {
		return nil, err
	}
	conflicts, err := counter("ginkit.session.save.conflicts", "Conditional session writes retried after a newer version.")
	if err != nil {
		return nil, err
	}
	touches, err := counter("ginkit.session.touches", "Idle-deadline extensions of unchanged sessions.")
	if err != nil {
		return nil, err
	}
	errs, err := counter("ginkit.session.errors", "Failed session operations, by operation.")
	if err != nil {
		return nil, err
	}
	failed, err := counter("ginkit.session.failed_responses", "Responses turned into an error because their session save failed.")
	if err != nil {
		return nil, err
	}
	ended, err := counter("ginkit.session.ended", "Sessions ended by logout or revocation.")
	if err != nil {
		return nil, err
	}
	unreadable, err := counter("ginkit.session.unreadable", "Stored records that did not open or decode (a key rotation in progress, corruption), left in place.")
	if err != nil {
		return nil, err
	}
	set := func(kv ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(append(kv, backend)...))
	}
	var (
		only     = set()
		hit      = set(ResultKey.String("hit"))
		miss     = set(ResultKey.String("miss"))
		lookErr  = set(ResultKey.String("error"))
		loadOp   = set(OperationKey.String("load"))
		saveOp   = set(OperationKey.String("save"))
		touchOp  = set(OperationKey.String("touch"))
		destroy  = set(OperationKey.String("destroy"))
		revokeOp = set(OperationKey.String("revoke"))
	)
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := m.Stats()
		o.ObserveInt64(lookups, int64(s.Hits), hit)
		o.ObserveInt64(lookups, int64(s.Misses), miss)
		o.ObserveInt64(lookups, int64(s.LoadErrors), lookErr)
		o.ObserveInt64(saves, int64(s.Saves), only)
		o.ObserveInt64(conflicts, int64(s.SaveConflicts), only)
		o.ObserveInt64(touches, int64(s.Touches), only)
		o.ObserveInt64(errs, int64(s.LoadErrors), loadOp)
		o.ObserveInt64(errs, int64(s.SaveErrors), saveOp)
		o.ObserveInt64(errs, int64(s.TouchErrors), touchOp)
		o.ObserveInt64(failed, int64(s.FailedResponses), only)
		o.ObserveInt64(ended, int64(s.Destroys), destroy)
		o.ObserveInt64(ended, int64(s.Revocations), revokeOp)
		o.ObserveInt64(unreadable, int64(s.Unreadable), only)
		return nil
	}, lookups, saves, conflicts, touches, errs, failed, ended, unreadable)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
