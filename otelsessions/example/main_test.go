package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ginkit/sessions"
)

// TestMetricsEndpoint serves the example on a real server, makes a few
// requests with a cookie jar, then scrapes /metrics as Prometheus would
// and finds the duration histogram and the counters; the session spans
// nest under otelgin's request spans.
func TestMetricsEndpoint(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	r, stop, err := newServer(sessions.DefaultConfig(), prometheus.NewRegistry(), tp)
	require.NoError(t, err)
	t.Cleanup(stop)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for i := 1; i <= 3; i++ {
		resp, err := client.Get(srv.URL + "/")
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, string(b), "visit ")
	}

	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	for _, want := range []string{
		`ginkit_session_operation_duration_seconds_bucket{`,
		`ginkit_session_operation_duration_seconds_count{ginkit_session_backend="memory",ginkit_session_operation="save"`,
		`ginkit_session_operation_duration_seconds_count{ginkit_session_backend="memory",ginkit_session_operation="load"`,
		`ginkit_session_saves_total{ginkit_session_backend="memory"`,
		`ginkit_session_lookups_total{ginkit_session_backend="memory",ginkit_session_result="hit"`,
	} {
		assert.Contains(t, text, want, "the scrape has %s", want)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "ginkit_session_operation_duration_seconds_count{") && strings.Contains(line, `operation="save"`) {
			assert.True(t, strings.HasSuffix(line, " 3"), "three saves: %s", line)
		}
	}

	var parents int
	byID := map[string]string{}
	for _, s := range spans.Ended() {
		byID[s.SpanContext().SpanID().String()] = s.Name()
	}
	for _, s := range spans.Ended() {
		if strings.HasPrefix(s.Name(), "ginkit.session.") && byID[s.Parent().SpanID().String()] == "GET /" {
			parents++
		}
	}
	assert.GreaterOrEqual(t, parents, 5, "the session spans are children of otelgin's request spans")
}
