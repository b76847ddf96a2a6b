package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
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
	body := scrape(t, srv.URL)
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

// scrape reads /metrics from the health server at base.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// checkAlertRules keeps deploy/prometheus/alerts.yaml in step with /metrics:
// every series a rule reads is one the endpoint serves, with the labels the
// rule matches and groups on.
func checkAlertRules(t *testing.T, metrics string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range alertProblems(b, parseServed(metrics)) {
		t.Error(p)
	}
}

// alertProblems is what is wrong with the rules file b, given what
// /metrics serves.
func alertProblems(b []byte, s served) []string {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		return []string{fmt.Sprintf("alerts.yaml: %v", err)}
	}
	var problems []string
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			problems = append(problems, exprProblems("alert "+r.Alert, r.Expr, s, "")...)
			n++
		}
	}
	if n == 0 {
		problems = append(problems, "alerts.yaml holds no rules")
	}
	return problems
}

// served is what a /metrics body serves: every series name (a histogram's
// _bucket, _sum and _count apart, as Prometheus stores them) with the
// names of the labels its samples carry.
type served map[string]map[string]bool

func parseServed(body string) served {
	s := served{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end <= 0 {
			continue
		}
		labels := s[line[:end]]
		if labels == nil {
			labels = map[string]bool{}
			s[line[:end]] = labels
		}
		if line[end] != '{' {
			continue
		}
		rest := line[end+1:]
		for rest != "" && rest[0] != '}' {
			eq := strings.Index(rest, `="`)
			if eq < 0 {
				break
			}
			labels[strings.TrimSpace(rest[:eq])] = true
			i := eq + 2
			for i < len(rest) && rest[i] != '"' {
				if rest[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(rest) {
				break
			}
			rest = strings.TrimPrefix(rest[i+1:], ",")
		}
	}
	return s
}

// targetLabels are the labels Prometheus gives every series of a scrape
// target; /metrics does not carry them.
var targetLabels = map[string]bool{"instance": true, "job": true}

// scrapeSeries are the series Prometheus makes of each scrape itself.
var scrapeSeries = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true}

// exprProblems checks one PromQL expression (what names it in the
// problems) against s: it reads at least one series, only series s
// serves, matches only on labels those series carry, groups only by
// labels one of them carries, and calls only PromQL's functions. filter,
// when set, is a label every series carrying it must be matched on with
// the dashboard variable of that name (label=~"$label").
func exprProblems(what, expr string, s served, filter string) []string {
	q := parsePromQL(expr)
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, what+": "+fmt.Sprintf(format, args...))
	}
	if q.err != "" {
		add("%s in %q", q.err, expr)
		return problems
	}
	if len(q.selectors) == 0 {
		add("reads no series: %q", expr)
	}
	for _, f := range q.functions {
		if !promqlFunctions[f] {
			add("calls %s(), which PromQL does not have", f)
		}
	}
	carried := maps.Clone(targetLabels)
	for _, sel := range q.selectors {
		labels, ok := s[sel.name]
		if !ok && !scrapeSeries[sel.name] {
			hint := ""
			if _, hist := s[sel.name+"_bucket"]; hist {
				hint = " (a histogram: read its _bucket, _sum or _count)"
			}
			add("reads %s, which /metrics does not serve%s", sel.name, hint)
			continue
		}
		maps.Copy(carried, labels)
		filtered := false
		for _, m := range sel.matchers {
			if m.label != "__name__" && !labels[m.label] && !targetLabels[m.label] && ok {
				add("matches %s on label %q, which it does not carry", sel.name, m.label)
			}
			if m.label == filter && m.op == "=~" && (strings.Contains(m.value, "$"+filter) || strings.Contains(m.value, "${"+filter)) {
				filtered = true
			}
		}
		if filter != "" && labels[filter] && !filtered {
			add("reads %s without %s=~\"$%s\"", sel.name, filter, filter)
		}
	}
	for _, l := range q.grouping {
		if !carried[l] {
			add("groups on label %q, which none of its series carries", l)
		}
	}
	return problems
}

// promQuery is what parsePromQL finds in an expression.
type promQuery struct {
	selectors []selector
	grouping  []string // labels of by, without, on, ignoring, group_left, group_right
	functions []string // functions and aggregations called, lower case
	err       string   // why it does not parse
}

type selector struct {
	name     string
	matchers []matcher
}

type matcher struct{ label, op, value string }

// parsePromQL scans expr for what exprProblems checks. It is a scanner,
// not a parser: it tells series from functions, keywords and labels, and
// finds unbalanced brackets and strings, which is all a check of names
// needs. Grafana's variables ($provider, $__rate_interval) are skipped
// like the literals they stand for.
func parsePromQL(expr string) promQuery {
	var q promQuery
	depth := 0
	i := 0
	skipSpace := func() {
		for i < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[i])) {
			i++
		}
	}
	ident := func() string {
		j := i
		for i < len(expr) && isIdentByte(expr[i], i > j) {
			i++
		}
		return expr[j:i]
	}
	for i < len(expr) && q.err == "" {
		c := expr[i]
		switch {
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			if _, n, ok := promString(expr[i:]); ok {
				i += n
			} else {
				q.err = "an unterminated string"
			}
		case c == '[':
			// A range or subquery: durations and variables only.
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				q.err = "an unclosed ["
				break
			}
			i += j + 1
		case c == '{':
			ms, n, err := promMatchers(expr[i:])
			if err != "" {
				q.err = err
				break
			}
			i += n
			sel := selector{matchers: ms}
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					sel.name = m.value
				}
			}
			if sel.name == "" {
				q.err = "a selector without a metric name"
				break
			}
			q.selectors = append(q.selectors, sel)
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				if j := strings.IndexByte(expr[i:], '}'); j >= 0 {
					i += j + 1
				}
			} else {
				ident()
			}
		case c >= '0' && c <= '9' || c == '.':
			// Numbers and durations (5m, 1e3, 0x1f).
			for i < len(expr) && (isIdentByte(expr[i], true) || expr[i] == '.') {
				i++
			}
		case isIdentByte(c, false):
			name := ident()
			skipSpace()
			next := byte(0)
			if i < len(expr) {
				next = expr[i]
			}
			lower := strings.ToLower(name)
			switch {
			case groupingKeywords[lower]:
				if next != '(' {
					break // group_left with no labels
				}
				end := strings.IndexByte(expr[i:], ')')
				if end < 0 {
					q.err = "an unclosed ("
					break
				}
				for _, l := range strings.Split(expr[i+1:i+end], ",") {
					if l = strings.TrimSpace(l); l != "" {
						q.grouping = append(q.grouping, l)
					}
				}
				i += end + 1
			case promqlKeywords[lower]:
			case next == '(' || aggregations[lower]:
				// An aggregation may put its by or without before its
				// parenthesis.
				q.functions = append(q.functions, lower)
			default:
				sel := selector{name: name}
				if next == '{' {
					ms, n, err := promMatchers(expr[i:])
					if err != "" {
						q.err = err
						break
					}
					sel.matchers = ms
					i += n
				}
				q.selectors = append(q.selectors, sel)
			}
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				q.err = "a ) without its ("
			}
			i++
		case c == ']' || c == '}':
			q.err = fmt.Sprintf("a %c without its opening", c)
		default:
			i++
		}
	}
	if q.err == "" && depth != 0 {
		q.err = "an unclosed ("
	}
	return q
}

func isIdentByte(c byte, inside bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || inside && c >= '0' && c <= '9'
}

// promString reads the string literal s starts with: its value and length.
func promString(s string) (value string, n int, ok bool) {
	quote := s[0]
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote != '`' {
				i++
			}
		case quote:
			v := s[1:i]
			if quote != '`' {
				if u, err := strconv.Unquote(`"` + strings.ReplaceAll(v, `\'`, `'`) + `"`); err == nil {
					v = u
				}
			}
			return v, i + 1, true
		}
	}
	return "", 0, false
}

// promMatchers reads the label matchers s starts with ({...}) and their
// length.
func promMatchers(s string) (ms []matcher, n int, err string) {
	i := 1
	for {
		for i < len(s) && strings.ContainsRune(" \t\r\n,", rune(s[i])) {
			i++
		}
		if i >= len(s) {
			return nil, 0, "an unclosed {"
		}
		if s[i] == '}' {
			return ms, i + 1, ""
		}
		j := i
		for i < len(s) && isIdentByte(s[i], i > j) {
			i++
		}
		if j == i {
			return nil, 0, fmt.Sprintf("a label matcher that names no label at %q", s[j:])
		}
		m := matcher{label: s[j:i]}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		for _, op := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], op) {
				m.op = op
				i += len(op)
				break
			}
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if m.op == "" || i >= len(s) || !strings.ContainsRune("\"'`", rune(s[i])) {
			return nil, 0, fmt.Sprintf("a label matcher of %s without an operator and a string", m.label)
		}
		v, vn, ok := promString(s[i:])
		if !ok {
			return nil, 0, "an unterminated string"
		}
		m.value = v
		i += vn
		ms = append(ms, m)
	}
}

var groupingKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"atan2": true, "inf": true, "nan": true}

// aggregations are PromQL's aggregation operators, and promqlFunctions
// those and its functions.
var aggregations, promqlFunctions = map[string]bool{}, map[string]bool{}

func init() {
	for _, f := range strings.Fields("sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio") {
		aggregations[f], promqlFunctions[f] = true, true
	}
	for _, f := range strings.Fields(`abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week day_of_year
		days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
		histogram_stddev histogram_stdvar histogram_sum double_exponential_smoothing holt_winters hour idelta increase
		irate label_join label_replace ln log2 log10 minute month predict_linear rate resets round scalar sgn sort
		sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year avg_over_time min_over_time
		max_over_time sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time
		last_over_time present_over_time mad_over_time acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh
		deg pi rad info start end`) {
		promqlFunctions[f] = true
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
