package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/threadsync/threadsync/internal/observe"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sla"
)

// TestMetricsEndpoint syncs one account and reads /metrics: what the engine
// counted, the account's state and lag, the process's own figures, and no
// token.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	a := h.NewAccount(t, "metrics", 2)
	policy, err := sla.Parse("day", sla.Spec{ReplyWithin: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	a.SLA = policy
	pollerstest.OpenThreads(t, h, a, 5)
	met, err := observe.Setup(t.Context(), "threadsync", version)
	if err != nil {
		t.Fatal(err)
	}
	defer met.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	var first pollers.Stats
	e := pollerstest.NewWorld(t).Engine(pollers.Config{
		MeterProvider: met.Meters,
		OnPoll: func(_ pollers.Account, st pollers.Stats, err error) {
			if err != nil {
				t.Errorf("poll: %v", err)
			}
			first = st
			cancel() // Run returns after recording this poll's status
		},
	}, a)
	if err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if first.Events == 0 || first.Pages < 3 {
		t.Fatalf("the poll did too little to count: %+v", first)
	}

	srv := httptest.NewServer((&health{engine: e, metrics: met.Handler}).handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		fmt.Sprintf(`threadsync_events_total{provider="mirakl"} %d`, first.Events),
		fmt.Sprintf(`threadsync_pages_total{provider="mirakl"} %d`, first.Pages),
		fmt.Sprintf(`threadsync_provider_requests_total{provider="mirakl"} %d`, first.Requests),
		`threadsync_polls_total{outcome="ok",provider="mirakl"} 1`,
		`threadsync_poll_duration_seconds_count{provider="mirakl"} 1`,
		`threadsync_accounts{provider="mirakl",state="ok"} 1`,
		`threadsync_sync_lag_seconds{provider="mirakl"} `,
		`threadsync_workers 1`,
		`threadsync_reply_open{provider="mirakl"} 5`,
		`process_resident_memory_bytes `,
		`go_goroutines `,
		`target_info{service_name="threadsync",service_version=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if lag := metricValue(t, body, `threadsync_sync_lag_seconds{provider="mirakl"}`); lag < 0 || lag > time.Minute.Seconds() {
		t.Errorf("sync lag %gs right after a successful poll", lag)
	}
	if strings.Contains(body, a.Token) {
		t.Error("/metrics contains the account's token")
	}
	checkAlertRules(t, body)
}

// checkAlertRules keeps deploy/prometheus/alerts.yaml in step with /metrics:
// every threadsync series a rule reads is one the endpoint serves.
func checkAlertRules(t *testing.T, metrics string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	series := regexp.MustCompile(`threadsync_[a-z_]+`)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names := series.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("alert %s reads no threadsync series: %s", r.Alert, r.Expr)
			}
			for _, name := range names {
				if !strings.Contains(metrics, "\n"+name+"{") {
					t.Errorf("alert %s reads %s, which /metrics does not serve", r.Alert, name)
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Error("alerts.yaml holds no rules")
	}
}

func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}
