// Command example serves a Gin app whose sessions are observed by
// OpenTelemetry: otelgin makes a span per request, otelsessions a span
// per session operation under it and the metrics, and the OpenTelemetry
// Prometheus exporter serves them on /metrics in Prometheus' text format.
//
//	go run ./example                       # in otelsessions/; SESSION_DSN picks the store
//	curl -c jar -b jar localhost:8080/      # a few times
//	curl localhost:8080/metrics | grep ginkit_session
//
// It listens on :8080 (ADDR overrides).
package main

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/otelsessions"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	cfg, err := sessions.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	r, stop, err := newServer(cfg, prometheus.NewRegistry(), sdktrace.NewTracerProvider())
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	log.Printf("listening on %s; metrics on /metrics", addr)
	log.Fatal(http.ListenAndServe(addr, r))
}

// newServer wires the app: a Prometheus exporter on reg behind /metrics,
// otelgin's request spans and otelsessions' observer and counters, on tp.
// stop closes the Manager.
func newServer(cfg sessions.Config, reg *prometheus.Registry, tp *sdktrace.TracerProvider) (*gin.Engine, func(), error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))

	cfg.Observer = otelsessions.New(otelsessions.WithMeterProvider(mp), otelsessions.WithTracerProvider(tp))
	m, err := sessions.NewManager(cfg)
	if err != nil {
		return nil, nil, err
	}
	unregister, err := otelsessions.RegisterStats(m, otelsessions.WithMeterProvider(mp))
	if err != nil {
		_ = m.Close()
		return nil, nil, err
	}

	r := gin.New()
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	app := r.Group("/", otelgin.Middleware("example", otelgin.WithTracerProvider(tp)), m.Handler())
	app.GET("/", func(c *gin.Context) {
		n, err := sessions.Update(c, "visits", func(n int, _ bool) int { return n + 1 })
		if err != nil {
			c.String(http.StatusServiceUnavailable, "the session store is unavailable")
			return
		}
		c.String(http.StatusOK, "visit %d\n", n)
	})
	stop := func() {
		_ = unregister()
		_ = m.Close()
		_ = mp.Shutdown(context.Background())
	}
	return r, stop, nil
}
