package core

import (
	"context"
	"time"
)

// Detach returns a context with ctx's values but without its deadline or
// cancellation, for store writes that must finish even when the client
// hangs up mid-request (a save half-way through a login). It does what
// context.WithoutCancel does, except that a value lookup goes straight to
// ctx: through context.WithoutCancel every Value call allocates (Go 1.26),
// and on a save path tracers and drivers look up values several times per
// request.
func Detach(ctx context.Context) context.Context { return &detached{ctx} }

type detached struct{ parent context.Context }

func (*detached) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*detached) Done() <-chan struct{}       { return nil }
func (*detached) Err() error                  { return nil }
func (d *detached) Value(key any) any         { return d.parent.Value(key) }
func (d *detached) String() string            { return "sessions.Detach" }
