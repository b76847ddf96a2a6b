package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/internal/observe"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sla"
)

const dashboardFile = "../../deploy/grafana/threadsync.json"

// dashboardSeries are the series the dashboard must show, whatever else
// it reads.
var dashboardSeries = []string{
	"threadsync_sync_lag_seconds", "threadsync_detection_delay_seconds_bucket",
	"threadsync_events_total", "threadsync_pages_total", "threadsync_polls_total",
	"threadsync_provider_responses_total", "threadsync_provider_retries_total",
	"threadsync_ratelimit_pause_seconds_total", "threadsync_publish_ack_seconds_bucket",
	"threadsync_accounts", "threadsync_workers", "threadsync_backfill_events_total", "threadsync_state_lost_total",
	"threadsync_reply_open", "threadsync_reply_sla_total", "threadsync_reply_resolved_total",
	"threadsync_reply_response_time_seconds_bucket",
}

// TestDashboard checks deploy/grafana/threadsync.json against what
// /metrics serves once an engine has done every kind of work the
// dashboard shows, so that no panel reads a series that is never there.
func TestDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	body := busyMetrics(t)
	s := parseServed(body)
	for _, p := range dashboardProblems(b, s) {
		t.Error(p)
	}

	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	states := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			for _, sel := range parsePromQL(tg.Expr).selectors {
				read[sel.name] = true
				for _, m := range sel.matchers {
					if sel.name == "threadsync_accounts" && m.label == "state" && m.op == "=" {
						states[m.value] = true
					}
				}
			}
		}
	}
	for _, name := range dashboardSeries {
		if !read[name] {
			t.Errorf("no panel reads %s", name)
		}
	}
	for _, st := range []string{"failing", "paused"} {
		if !states[st] {
			t.Errorf("no panel shows the %s accounts (threadsync_accounts{state=%q})", st, st)
		}
	}
}

// busyMetrics runs one engine, on a real Redis and JetStream, through
// the work that makes each series of the dashboard exist, and returns
// what /metrics then serves. Its accounts, all polled every 20ms:
//   - live: its first walk; then a new message (a detection delay), an
//     answer (an episode resolved, a response time) and a 503 sent again
//     in place (a retry); then a 429 asking for longer than a request
//     waits in place (a rate-limit pause, a failed poll);
//   - lost: a sync mark on the stream and nothing in Redis (a state loss);
//   - backfill: a from_now start, then a backfill;
//   - late: on a provider clock two hours behind, episodes past both
//     deadlines of their policy (SLA warnings and breaches).
func busyMetrics(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	behind := pollerstest.Mirakl
	behind.New = func() *miraklsim.Server {
		return miraklsim.New(miraklsim.Config{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	}
	hb := pollerstest.NewSimHarness(behind)

	day, err := sla.Parse("day", sla.Spec{ReplyWithin: "24h"})
	if err != nil {
		t.Fatal(err)
	}
	hour, err := sla.Parse("hour", sla.Spec{ReplyWithin: "1h", WarnBefore: "30m"})
	if err != nil {
		t.Fatal(err)
	}
	live := h.NewAccount(t, "live", 2)
	live.SLA = day
	threads := pollerstest.OpenThreads(t, h, live, 3)
	lost := h.NewAccount(t, "lost", 2)
	h.Seed(t, lost, 2, 2)
	bf := h.NewAccount(t, "backfill", 2)
	bf.InitialSync = pollers.SyncFromNow
	h.Seed(t, bf, 3, 2)
	late := hb.NewAccount(t, "late", 2)
	late.SLA = hour
	pollerstest.OpenThreads(t, hb, late, 2)
	accts := []pollers.Account{live, lost, bf, late}
	for i := range accts {
		accts[i].PollInterval = 20 * time.Millisecond
	}

	w := pollerstest.NewWorld(t)
	marks, err := events.OpenMarks(ctx, w.JS.JS, w.JS.Stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := marks.Mark(ctx, lost.Provider, lost.ID, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	met, err := observe.Setup(ctx, "threadsync", version)
	if err != nil {
		t.Fatal(err)
	}
	defer met.Shutdown()

	bfKey := checkpoint.Account{Provider: bf.Provider, ID: bf.ID}
	var (
		mu      sync.Mutex
		step    = map[string]int{}
		pending = map[string]bool{"live": true, "lost": true, "backfill": true, "late": true}
		done    = make(chan struct{})
	)
	// Each account's steps: a step's condition holds on the poll it waits
	// for, and its action prepares what the next poll is to meet. The
	// runner calls OnPoll before it polls again, so the next poll sees it.
	type stepFn func(st pollers.Stats, err error) bool
	steps := map[string][]stepFn{
		"live": {
			func(st pollers.Stats, err error) bool {
				if err != nil || !st.Completed {
					return false
				}
				h.AddMessage(t, live, threads[0], events.Inbound, "one more thing")
				h.AddMessage(t, live, threads[1], events.Outbound, "here you are")
				h.Fail(t, live, pollerstest.Fault{Status: http.StatusServiceUnavailable}, 1)
				return true
			},
			func(st pollers.Stats, err error) bool {
				if err != nil || st.Events < 2 {
					return false
				}
				h.Fail(t, live, pollerstest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "120"}, 1)
				return true
			},
			func(_ pollers.Stats, err error) bool { return errors.Is(err, pollers.ErrRateLimited) },
		},
		"lost": {func(st pollers.Stats, err error) bool { return err == nil && st.Completed }},
		"backfill": {
			func(st pollers.Stats, err error) bool {
				if err != nil || !st.Completed {
					return false
				}
				if _, err := w.Store.RequestBackfill(ctx, bfKey, checkpoint.Backfill{ID: "dashboard", By: "test", At: time.Now()}); err != nil {
					t.Errorf("request backfill: %v", err)
				}
				return true
			},
			// The runner backfills after a poll's OnPoll, so the next one
			// sees the backfill's commits.
			func(pollers.Stats, error) bool {
				job, err := w.Store.Backfill(ctx, bfKey)
				return err == nil && job != nil && !job.Done.IsZero()
			},
		},
		"late": {func(st pollers.Stats, err error) bool { return err == nil && st.Completed }},
	}
	e := w.Engine(pollers.Config{
		MeterProvider: met.Meters,
		Marks:         marks,
		Retry:         pollers.RetryPolicy{MinWait: time.Millisecond, MaxWait: 10 * time.Millisecond},
		OnPoll: func(a pollers.Account, st pollers.Stats, err error) {
			mu.Lock()
			defer mu.Unlock()
			if !pending[a.ID] {
				return
			}
			n := step[a.ID]
			if !steps[a.ID][n](st, err) {
				return
			}
			step[a.ID] = n + 1
			if n+1 == len(steps[a.ID]) {
				delete(pending, a.ID)
				if len(pending) == 0 {
					close(done)
				}
			}
		},
	}, accts...)
	srv := httptest.NewServer((&health{engine: e, metrics: met.Handler}).handler())
	defer srv.Close()

	stop := w.Run(e)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		left := fmt.Sprint(pending, step)
		mu.Unlock()
		t.Fatalf("the accounts did not do their work within 60s: %s left\n%s", left, w.Logs)
	}
	// The deadlines fire in the timer queue, apart from the polls: the
	// counter is the only sign that they were counted.
	w.Until("the SLA warnings and breaches counted", func() bool {
		return strings.Contains(scrape(t, srv.URL), "\nthreadsync_reply_sla_total{")
	})
	stop()
	body := scrape(t, srv.URL)

	job, err := w.Store.Backfill(ctx, bfKey)
	if err != nil || job == nil {
		t.Fatalf("backfill %+v: %v", job, err)
	}
	at := func(series string) float64 { return metricValue(t, body, series) }
	p := `provider="mirakl"`
	for series, ok := range map[string]bool{
		"detection delays":        at("threadsync_detection_delay_seconds_count{"+p+"}") >= 1,
		"resolved episodes":       at(`threadsync_reply_resolved_total{`+p+`,resolution="answered",sla="within"}`) >= 1,
		"response times":          at("threadsync_reply_response_time_seconds_count{"+p+"}") >= 1,
		"5xx retries":             at("threadsync_provider_retries_total{"+p+`,reason="5xx"}`) >= 1,
		"429 answers":             at(`threadsync_provider_responses_total{class="429",`+p+"}") >= 1,
		"the 120s pause asked":    at("threadsync_ratelimit_pause_seconds_total{"+p+"}") >= 120,
		"one state loss":          at("threadsync_state_lost_total{"+p+"}") == 1,
		"the backfill's events":   job.Events > 0 && at("threadsync_backfill_events_total{"+p+"}") == float64(job.Events),
		"SLA breaches (2 late)":   at(`threadsync_reply_sla_total{kind="breach",`+p+"}") == 2,
		"SLA warnings (2 late)":   at(`threadsync_reply_sla_total{kind="warning",`+p+"}") == 2,
		"a failed poll (the 429)": at(`threadsync_polls_total{outcome="error",`+p+"}") >= 1,
	} {
		if !ok {
			t.Errorf("/metrics does not show %s:\n%s", series, threadsyncLines(body))
		}
	}
	return body
}

// threadsyncLines are the threadsync samples of a /metrics body, buckets
// left out.
func threadsyncLines(body string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "threadsync_") && !strings.Contains(l, "_bucket{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource json.RawMessage `json:"datasource"`
			Query      json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// allPanels is panels with the panels of collapsed rows.
func allPanels(panels []panel) []panel {
	var out []panel
	for _, p := range panels {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// byVariable says whether a datasource reference is the dashboard's
// datasource variable: ones naming a Grafana instance's own uid break
// on every other instance.
func byVariable(raw json.RawMessage) bool {
	var ref struct{ Type, UID string }
	if json.Unmarshal(raw, &ref) != nil {
		return false
	}
	return ref.Type == "prometheus" && (ref.UID == "${datasource}" || ref.UID == "$datasource")
}

var labelValues = regexp.MustCompile(`^label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// dashboardProblems is what is wrong with the dashboard b, given what
// /metrics serves: its layout, its datasources, and every query of its
// panels and variables (see exprProblems; a series with a provider label
// must be filtered by $provider).
func dashboardProblems(b []byte, s served) []string {
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return []string{fmt.Sprintf("dashboard: %v", err)}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.Title == "" || d.UID == "" {
		add("dashboard has no title or uid")
	}
	// 36 is the schema of datasources referenced as objects by uid.
	if d.SchemaVersion < 36 {
		add("schemaVersion %d is older than 36", d.SchemaVersion)
	}

	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name+"/"+v.Type] = true
		var query string
		if json.Unmarshal(v.Query, &query) != nil {
			var q struct{ Query string }
			_ = json.Unmarshal(v.Query, &q)
			query = q.Query
		}
		what := "variable " + v.Name
		switch v.Type {
		case "datasource":
			if query != "prometheus" {
				add("%s: datasource variable of %q, not prometheus", what, query)
			}
		case "query":
			if !byVariable(v.Datasource) {
				add("%s: datasource %s is not the datasource variable", what, v.Datasource)
			}
			m := labelValues.FindStringSubmatch(query)
			if m == nil {
				add("%s: query %q is not label_values(series, label)", what, query)
				break
			}
			problems = append(problems, exprProblems(what, m[1], s, "")...)
			for _, sel := range parsePromQL(m[1]).selectors {
				if labels, ok := s[sel.name]; ok && !labels[m[2]] {
					add("%s: %s carries no label %q", what, sel.name, m[2])
				}
			}
		}
	}
	if !vars["datasource/datasource"] || !vars["provider/query"] {
		add("dashboard lacks the datasource variable or the provider query variable")
	}

	ids := map[int]string{}
	type rect struct {
		x, y, w, h int
		name       string
	}
	var placed []rect
	for _, p := range allPanels(d.Panels) {
		what := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" {
			add("%s has no title", what)
		}
		if other, dup := ids[p.ID]; dup || p.ID <= 0 {
			add("%s: id not unique and positive (also %s)", what, other)
		}
		ids[p.ID] = what
		if g := p.GridPos; g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			add("%s: gridPos %+v is not a place on the 24-column grid", what, p.GridPos)
		} else if !slices.ContainsFunc(d.Panels, func(q panel) bool { return q.ID == p.ID }) {
			// A collapsed row's panels are laid out when it opens.
		} else {
			r := rect{g.X, g.Y, g.W, g.H, what}
			for _, o := range placed {
				if r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h {
					add("%s overlaps %s", what, o.name)
				}
			}
			placed = append(placed, r)
		}
		if p.Type == "row" {
			if len(p.Targets) > 0 {
				add("%s: a row with queries", what)
			}
			continue
		}
		if !byVariable(p.Datasource) {
			add("%s: datasource %s is not the datasource variable", what, p.Datasource)
		}
		if len(p.Targets) == 0 {
			add("%s has no query", what)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			twhat := what + " query " + tg.RefID
			if tg.RefID == "" || refs[tg.RefID] {
				add("%s: refId empty or not unique", twhat)
			}
			refs[tg.RefID] = true
			if len(tg.Datasource) > 0 && !byVariable(tg.Datasource) {
				add("%s: datasource %s is not the datasource variable", twhat, tg.Datasource)
			}
			problems = append(problems, exprProblems(twhat, tg.Expr, s, "provider")...)
		}
	}
	return problems
}

// TestDashboardCheckFails: the checks of the dashboard and the alert
// rules report what is wrong, and nothing in a dashboard that is right.
func TestDashboardCheckFails(t *testing.T) {
	t.Parallel()
	s := parseServed(`# TYPE threadsync_polls_total counter
threadsync_polls_total{outcome="ok",provider="mirakl"} 3
threadsync_publish_ack_seconds_bucket{provider="mirakl",le="0.001"} 0
threadsync_publish_ack_seconds_sum{provider="mirakl"} 0.2
threadsync_publish_ack_seconds_count{provider="mirakl"} 3
threadsync_workers 1
target_info{service_name="threadsync",note="a \"quoted\", {braced} value"} 1
`)
	if got := s["target_info"]; !got["service_name"] || !got["note"] || len(got) != 2 {
		t.Fatalf("target_info labels parsed as %v", got)
	}
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	vars := []any{
		map[string]any{"name": "datasource", "type": "datasource", "query": "prometheus"},
		map[string]any{"name": "provider", "type": "query", "datasource": ds,
			"query": map[string]any{"query": "label_values(threadsync_polls_total, provider)"}},
	}
	timeseries := func(id int, x int, exprs ...string) map[string]any {
		var targets []any
		for i, e := range exprs {
			targets = append(targets, map[string]any{"refId": string(rune('A' + i)), "expr": e, "datasource": ds})
		}
		return map[string]any{"id": id, "type": "timeseries", "title": fmt.Sprint("panel ", id), "datasource": ds,
			"gridPos": map[string]int{"h": 8, "w": 12, "x": x, "y": 1}, "targets": targets}
	}
	good := func() map[string]any {
		return map[string]any{"title": "t", "uid": "u", "schemaVersion": 39, "templating": map[string]any{"list": vars},
			"panels": []any{
				map[string]any{"id": 1, "type": "row", "title": "row", "gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": 0}},
				timeseries(2, 0, `sum by (provider, outcome) (rate(threadsync_polls_total{provider=~"$provider"}[$__rate_interval]))`,
					`histogram_quantile(0.99, sum by (le) (rate(threadsync_publish_ack_seconds_bucket{provider=~"$provider"}[5m]))) * 1e3`),
				timeseries(3, 12, `max(threadsync_workers) / count(up{job="threadsync"})`),
			}}
	}
	problems := func(d map[string]any) []string {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return dashboardProblems(b, s)
	}
	if p := problems(good()); len(p) != 0 {
		t.Fatalf("a right dashboard: %q", p)
	}
	withExpr := func(expr string) map[string]any {
		d := good()
		d["panels"].([]any)[2] = timeseries(3, 12, expr)
		return d
	}
	for name, c := range map[string]struct {
		d    map[string]any
		want string
	}{
		"unknown metric":       {withExpr(`rate(threadsync_nope_total{provider=~"$provider"}[5m])`), "reads threadsync_nope_total, which /metrics does not serve"},
		"histogram, no bucket": {withExpr(`threadsync_publish_ack_seconds{provider=~"$provider"}`), "a histogram: read its _bucket"},
		"label typo":           {withExpr(`threadsync_polls_total{provder=~"$provider"}`), `on label "provder"`},
		"no provider filter":   {withExpr(`sum(rate(threadsync_polls_total[5m]))`), `without provider=~"$provider"`},
		"grouping typo":        {withExpr(`sum by (outcme) (threadsync_polls_total{provider=~"$provider"})`), `groups on label "outcme"`},
		"unknown function":     {withExpr(`histogram_quantil(0.5, threadsync_publish_ack_seconds_bucket{provider=~"$provider"})`), "calls histogram_quantil()"},
		"unbalanced":           {withExpr(`sum(rate(threadsync_polls_total{provider=~"$provider"}[5m])`), "an unclosed ("},
		"no series":            {withExpr(`vector(1)`), "reads no series"},
		"fixed datasource": {func() map[string]any {
			d := good()
			d["panels"].([]any)[1].(map[string]any)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
			return d
		}(), "panel 2 \"panel 2\": datasource"},
		"duplicate id": {func() map[string]any {
			d := good()
			d["panels"].([]any)[2].(map[string]any)["id"] = 2
			return d
		}(), "id not unique"},
		"no gridPos": {func() map[string]any {
			d := good()
			delete(d["panels"].([]any)[2].(map[string]any), "gridPos")
			return d
		}(), "gridPos"},
		"overlap": {func() map[string]any {
			d := good()
			d["panels"].([]any)[2].(map[string]any)["gridPos"] = map[string]int{"h": 8, "w": 12, "x": 6, "y": 4}
			return d
		}(), "overlaps panel 2"},
		"variable of unknown metric": {func() map[string]any {
			d := good()
			d["templating"] = map[string]any{"list": []any{vars[0], map[string]any{"name": "provider", "type": "query", "datasource": ds,
				"query": "label_values(threadsync_poll_total, provider)"}}}
			return d
		}(), "variable provider: reads threadsync_poll_total"},
		"variable of unknown label": {func() map[string]any {
			d := good()
			d["templating"] = map[string]any{"list": []any{vars[0], map[string]any{"name": "provider", "type": "query", "datasource": ds,
				"query": "label_values(threadsync_workers, provider)"}}}
			return d
		}(), `threadsync_workers carries no label "provider"`},
	} {
		got := problems(c.d)
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: problems %q lack %q", name, got, c.want)
		}
	}

	rules := "groups:\n  - name: g\n    rules:\n      - alert: Fine\n        expr: sum by (instance) (threadsync_workers) > 1\n" +
		"      - alert: Typo\n        expr: threadsync_poll_total > 0\n"
	if got := alertProblems([]byte(rules), s); len(got) != 1 || !strings.Contains(got[0], "alert Typo: reads threadsync_poll_total") {
		t.Errorf("alert problems %q, want one of the rule Typo", got)
	}
}
