package pollers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestSecretsStayOut runs a full sync, including failures whose bodies echo
// the credentials back, and searches everything threadsync produced (logs,
// returned errors, status, spans, metrics, events) for the token.
func TestSecretsStayOut(t *testing.T) {
	// Not parallel: it installs the global OpenTelemetry providers.
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	a := h.NewAccount(t, "secret", 3)
	token := a.Token
	pollerstest.OpenThreads(t, h, a, 7)
	h.Fail(t, a, pollerstest.Fault{Status: http.StatusUnauthorized, Body: `{"message":"key ` + token + ` revoked"}`}, 1)
	// Twice: the engine retries a 500 once in place, then the poll fails.
	h.Fail(t, a, pollerstest.Fault{Status: http.StatusInternalServerError, Body: "upstream said Authorization: " + token}, 2)

	w := pollerstest.NewWorld(t)
	js, logs := w.JS, w.Logs
	var mu sync.Mutex
	var errs []string
	synced := make(chan struct{})
	e := w.Engine(pollers.Config{
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		Retry:  pollers.RetryPolicy{Attempts: 2, MinWait: time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnPoll: func(_ pollers.Account, _ pollers.Stats, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
				return
			}
			select {
			case <-synced:
			default:
				close(synced)
			}
		},
	}, a)
	stop := w.Run(e)
	select {
	case <-synced:
	case <-time.After(30 * time.Second):
		t.Fatalf("no successful poll\n%s", logs)
	}
	status := fmt.Sprintf("%+v", e.Status())
	stop()

	mu.Lock()
	if len(errs) < 4 {
		t.Fatalf("the two faults produced %d error strings, want 4", len(errs))
	}
	outputs := map[string]string{"log": logs.String(), "errors": strings.Join(errs, "\n"), "status": status}
	mu.Unlock()
	var sb strings.Builder
	for _, s := range spans.Ended() {
		fmt.Fprintf(&sb, "%s %v %v %v\n", s.Name(), s.Attributes(), s.Events(), s.Status())
	}
	outputs["spans"] = sb.String()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	outputs["metrics"] = fmt.Sprintf("%+v", rm)
	var evs strings.Builder
	for _, r := range js.ReadAll(t) {
		evs.Write(r.Raw)
	}
	outputs["events"] = evs.String()

	for what, out := range outputs {
		if out == "" {
			t.Errorf("%s: nothing captured, so nothing was checked", what)
		}
		if strings.Contains(out, token) {
			t.Errorf("%s contains the token", what)
		}
	}
	if !strings.Contains(outputs["errors"], "[redacted]") || !strings.Contains(outputs["spans"], "threadsync.poll") {
		t.Errorf("the echoed token was not seen and redacted:\nerrors: %s\nspans: %s", outputs["errors"], outputs["spans"])
	}
	if n := strings.Count(outputs["events"], `"type":"`+string(events.ThreadCreated)+`"`); n != 7 {
		t.Errorf("%d ThreadCreated events, want 7", n)
	}
}
