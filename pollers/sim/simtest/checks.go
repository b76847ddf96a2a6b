package simtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// faults checks one-shot faults: the first queued one that matches a
// request's endpoint and account answers it, Times times; a request
// refused before the chain leaves the queue alone; a Body goes out as it
// is, and without one the provider's error body answers.
func faults[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	f := serve(t, tg, false, nil)
	s, a, b := f.Sim, tg.A.Token, tg.B.Token
	list, msgs := tg.ListPath, tg.MessagesPath(s.Open(tg.A.Key, "hello"))
	if e := s.Endpoints(); !slices.Contains(e, s.ListEndpoint()) || !slices.Contains(e, tg.Messages) {
		t.Fatalf("endpoints %v lack the list %q or the messages %q", e, s.ListEndpoint(), tg.Messages)
	}
	const cut = `{"cut": [`
	s.InjectFault(sim.Fault{Endpoint: tg.Messages, Status: http.StatusBadGateway})
	s.InjectFault(sim.Fault{Endpoint: s.ListEndpoint(), Account: tg.B.Key, Status: http.StatusServiceUnavailable, RetryAfter: "7", Times: 2})
	s.InjectFault(sim.Fault{Endpoint: s.ListEndpoint(), Status: http.StatusOK, Body: cut})
	s.InjectFault(sim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"})

	// Registering again changes nothing; a credential opens one account.
	s.Register(tg.A.Key, tg.A.Token)
	WantPanics(t, map[string]func(){
		"B's credential for A": func() { s.Register(tg.A.Key, tg.B.Token) },
		"no credential":        func() { s.Register(tg.A.Key, "") },
	})
	revoked := tg.A.Token + "-revoked"
	for _, tok := range []string{"", revoked} {
		if r := f.Get(tok, list); r.Status != http.StatusUnauthorized || bytes.Contains(r.Body, []byte(revoked)) {
			t.Fatalf("credential %q: %d %.300s; want 401, not echoing it", tok, r.Status, r.Body)
		}
	}
	// A's list skips B's fault for the body one; B then takes its own
	// twice, and the one of any endpoint; A's messages take theirs.
	for i, c := range []struct {
		token, path string
		status      int
		retryAfter  string
	}{
		{a, list, http.StatusOK, ""},
		{b, list, http.StatusServiceUnavailable, "7"},
		{b, list, http.StatusServiceUnavailable, "7"},
		{b, list, http.StatusTooManyRequests, "3"},
		{a, msgs, http.StatusBadGateway, ""},
		{a, msgs, http.StatusOK, ""},
		{a, list, http.StatusOK, ""},
	} {
		r := f.Get(c.token, c.path)
		what := fmt.Sprintf("request %d", i+1)
		switch {
		case c.status != http.StatusOK:
			refused(t, tg, what, r, c.status, c.retryAfter, false)
		case r.Status != http.StatusOK || r.Header.Get("Retry-After") != "":
			t.Fatalf("%s: %d, Retry-After %q: %.300s", what, r.Status, r.Header.Get("Retry-After"), r.Body)
		case (i == 0) != (string(r.Body) == cut):
			t.Fatalf("%s: body %.300s (the fault's is %s)", what, r.Body, cut)
		}
	}
	s.InjectFault(sim.Fault{Times: 3})
	refused(t, tg, "a fault of any endpoint, default status", f.Get(a, list), http.StatusInternalServerError, "", false)
	s.ClearFaults()
	WantStatus(t, f.Get(a, list), http.StatusOK)

	if c := counters(t, s); c["Faults"] != 6 || c["Unauthorized"] != 2 || c["RateLimited"] != 0 {
		t.Fatalf("counters %v: want 6 faults, 2 unauthorized", c)
	}
	if l, m := s.Requests(); l != 7 || m != 2 {
		t.Fatalf("requests: %d to the list, %d to messages; want 7 and 2", l, m)
	}
}

// chain checks the order a request goes through: one-shot faults, then
// sustained faults, which count every endpoint of an account together
// and each account apart, then the rate limit; the schedule's watch of
// each account; and ResetStats.
func chain[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	f := serve(t, tg, true, nil)
	s, a, b, list := f.Sim, tg.A.Token, tg.B.Token, tg.ListPath
	msgs := tg.MessagesPath(s.Open(tg.A.Key, "hello"))
	refill := strconv.Itoa(int(tg.Refill / time.Second))
	s.SetSchedule(sim.Rule{Every: 2, Status: http.StatusTooManyRequests, RetryAfter: "30"})

	WantStatus(t, f.Get(a, list), http.StatusOK)
	refused(t, tg, "A's request 2, of another endpoint", f.Get(a, msgs), http.StatusTooManyRequests, "30", false)
	// B's requests are numbered apart: its first is not in the burst.
	WantStatus(t, f.Get(b, list), http.StatusOK)
	// A's third request comes sooner than Retry-After allows; the
	// schedule counts it early, and answers it as usual: the limiter's
	// 429, request 1 having spent the allowance.
	refused(t, tg, "A's request 3", f.Get(a, list), http.StatusTooManyRequests, refill, true)
	o := s.ScheduleStats(tg.A.Key)
	if o.Requests != 3 || o.Status[429] != 1 || o.Throttled != 2 || o.Early != 1 || o.MaxInFlight != 1 || o.InFlight != 0 {
		t.Fatalf("A observed %+v", o)
	}
	if all := s.AllScheduleStats(); len(all) != 2 || all[tg.B.Key].Requests != 1 {
		t.Fatalf("all observed %+v", all)
	}

	// An injected fault answers first; the schedule's answers spare the
	// limiter, refilled here.
	f.Clock.Advance(tg.Refill)
	s.SetSchedule(sim.Rule{Every: 1, Status: http.StatusServiceUnavailable})
	s.InjectFault(sim.Fault{Account: tg.B.Key, Status: http.StatusBadGateway})
	for i, want := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusServiceUnavailable} {
		refused(t, tg, fmt.Sprintf("B with a fault and a schedule, request %d", i+1), f.Get(b, list), want, "", false)
	}
	s.SetSchedule()
	WantStatus(t, f.Get(b, list), http.StatusOK)
	refused(t, tg, "B over the limit", f.Get(b, list), http.StatusTooManyRequests, refill, true)
	if c := counters(t, s); c["RateLimited"] != 2 || c["Faults"] != 1 {
		t.Fatalf("counters %v: want 2 rate limited, 1 fault", c)
	}
	if o := s.ScheduleStats(tg.B.Key); o.Requests != 6 || o.Status[503] != 2 || o.Status[502] != 0 {
		t.Fatalf("B observed %+v", o)
	}
	if l, m := s.Requests(); l != 8 || m != 1 {
		t.Fatalf("requests: %d to the list, %d to messages; want 8 and 1", l, m)
	}

	s.ResetStats()
	if o := s.ScheduleStats(tg.A.Key); o.Requests != 0 || len(o.Status) != 0 || o.Throttled != 0 {
		t.Fatalf("A observed after ResetStats %+v", o)
	}
	for k, v := range counters(t, s) {
		if v != 0 {
			t.Errorf("%s is %v after ResetStats", k, v)
		}
	}
	if l, m := s.Requests(); l != 0 || m != 0 {
		t.Fatalf("requests after ResetStats: %d, %d", l, m)
	}
}

// counters are the numbers of the simulator's Report, as JSON, by their
// path ("Faults", "Calls.threads"). Every Report counts faults, rate
// limited and unauthorized requests.
func counters(t *testing.T, s sim.Simulator) map[string]float64 {
	t.Helper()
	b, err := json.Marshal(s.Report())
	var v any
	if err == nil {
		err = json.Unmarshal(b, &v)
	}
	if err != nil {
		t.Fatalf("Report: %v", err)
	}
	out := map[string]float64{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case float64:
			out[path] = v
		case map[string]any:
			for k, x := range v {
				if path != "" {
					k = path + "." + k
				}
				walk(k, x)
			}
		}
	}
	walk("", v)
	for _, k := range []string{"Faults", "RateLimited", "Unauthorized"} {
		if _, ok := out[k]; !ok {
			t.Fatalf("Report without %s: %s", k, b)
		}
	}
	return out
}

// fill checks seeded history as Fill lays it out (see sim.Seed): the
// other side first, then alternating but for every third thread, which
// ends with the other side; times increasing and behind the clock, and
// live messages after them.
func fill[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	f := serve(t, tg, false, nil)
	s, acct := f.Sim, tg.A.Key
	s.Fill(acct, 30, 4)
	truth := s.Truth(acct)
	if len(truth) != 30 {
		t.Fatalf("%d threads, want 30", len(truth))
	}
	var last time.Time
	for i, th := range truth {
		if len(th.Messages) != 4 {
			t.Fatalf("thread %d: %d messages, want 4", i, len(th.Messages))
		}
		for j, m := range th.Messages {
			if want := sim.Direction(sim.SeedAnswer(i, j, 4)); m.Direction != want {
				t.Fatalf("thread %d message %d: %s, want %s", i, j, m.Direction, want)
			}
			if !m.At.After(last) || m.At.After(f.Clock.Now()) {
				t.Fatalf("thread %d message %d at %v: not after %v, or after now %v", i, j, m.At, last, f.Clock.Now())
			}
			last = m.At
		}
	}
	if n := awaiting(truth); n != 10 {
		t.Fatalf("%d threads await a reply, want every third", n)
	}
	checkPending(t, tg, s, acct)
	if n := len(s.Truth(tg.B.Key)); n != 0 {
		t.Fatalf("B has %d threads of A's fill", n)
	}

	th := truth[17].ID
	m := s.Write(acct, th, events.Inbound, "again")
	i := slices.IndexFunc(s.Truth(acct), func(x sim.Thread) bool { return x.ID == th })
	got := s.Truth(acct)[i].Messages
	if end := got[len(got)-1]; end.ID != m || !end.At.After(last) {
		t.Fatalf("live message %+v, want %s after the seeded history (%v)", end, m, last)
	}
	checkPending(t, tg, s, acct)

	s.Fill(acct, 5, 2)
	s.Fill(acct, 0, 3)
	after := ids(s.Truth(acct))
	if len(after) != 35 || slices.ContainsFunc(ids(truth), func(id string) bool { return !slices.Contains(after, id) }) {
		t.Fatalf("after two more fills: %d threads, want the 30 and 5 more", len(after))
	}
	// As many as the benchmarks fill.
	s.Fill(tg.B.Key, 10000, 4)
	if n := len(s.Truth(tg.B.Key)); n != 10000 {
		t.Fatalf("a fill of 10000 threads made %d", n)
	}
}

// traffic checks that Traffic runs until its context is done, and
// refuses an unknown account and a rate that is not positive and finite.
func traffic[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	events := make(chan struct{}, 64)
	s := tg.New(tg.config(false, sim.NewClock(epoch).Now))
	tg.Kit(s).OnTraffic = func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	s.Register(tg.A.Key, tg.A.Token)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Traffic(ctx, tg.A.Key, 1000, rand.New(rand.NewPCG(1, 2))) }()
	timeout := time.After(10 * time.Second) // a failure guard, not synchronisation
	for range 20 {
		select {
		case <-events:
		case <-timeout:
			t.Fatal("no traffic")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Traffic returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Traffic does not stop")
	}
	if len(s.Truth(tg.A.Key)) == 0 {
		t.Fatal("traffic opened no thread")
	}
	// ctx is done: a wrong call that does not refuse returns at once.
	for _, rate := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if err := s.Traffic(ctx, tg.A.Key, rate, nil); err == nil {
			t.Errorf("Traffic at rate %v: no error", rate)
		}
	}
	if err := s.Traffic(ctx, "no-such-account", 1, nil); err == nil {
		t.Error("Traffic of an unknown account: no error")
	}
}

// reproducible checks that Traffic with a seeded generator makes the same
// inbox, ids and times included, and writes like a live inbox: threads
// open with the other side's message, and the account answers only
// threads that await it.
func reproducible[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	const n = 400
	run := func() (S, []sim.Thread) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		count := 0
		s := tg.New(tg.config(false, sim.NewClock(epoch).Now))
		tg.Kit(s).OnTraffic = func() {
			if count++; count == n {
				cancel()
			}
		}
		s.Register(tg.A.Key, tg.A.Token)
		// Traffic performs no event once ctx is done, so it stops after
		// the n-th.
		if err := s.Traffic(ctx, tg.A.Key, 1e5, rand.New(rand.NewPCG(42, 1))); err != nil || count != n {
			t.Fatalf("Traffic: %d events, %v; want %d", count, err, n)
		}
		return s, s.Truth(tg.A.Key)
	}
	s, a := run()
	if _, b := run(); !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed made different inboxes:\n%+v\n%+v", a, b)
	}
	var in, out int
	for _, th := range a {
		for j, m := range th.Messages {
			switch {
			case j == 0 && m.Direction != events.Inbound:
				t.Fatalf("thread %s opens with a %s message", th.ID, m.Direction)
			case j > 0 && m.Direction == events.Outbound && th.Messages[j-1].Direction == events.Outbound:
				t.Fatalf("thread %s: message %d answers a thread that awaits no reply", th.ID, j)
			case m.Direction == events.Outbound:
				out++
			default:
				in++
			}
		}
	}
	if len(a) < 2 || in <= len(a) || out == 0 {
		t.Fatalf("%d threads, %d inbound and %d outbound messages in %d events", len(a), in, out, n)
	}
	checkPending(t, tg, s, tg.A.Key)
}

// steps checks the mix of the target's live traffic, step by step, and
// that the pending set keeps up with it.
func steps[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	s := tg.New(tg.config(false, sim.NewClock(epoch).Now))
	s.Register(tg.A.Key, tg.A.Token)
	rnd := rand.New(rand.NewPCG(42, 1))
	counts := map[string]int{}
	for i := range 2000 {
		counts[tg.Step(s, tg.A.Key, rnd)]++
		if i%400 == 0 {
			checkPending(t, tg, s, tg.A.Key)
		}
	}
	for name, least := range tg.Mix {
		if counts[name] < least {
			t.Errorf("%d %q in 2000 steps, want at least %d (all: %v)", counts[name], name, least, counts)
		}
	}
	checkPending(t, tg, s, tg.A.Key)
}

// Walk follows the list's cursors from the first page, limit threads a
// page, with the credential token, and returns the ids in order.
func Walk(c Client, token string, l List, limit int) ([]string, error) {
	return walk(c, token, l, limit, nil)
}

// walk is Walk that runs visit, when set, on each page.
func walk(c Client, token string, l List, limit int, visit func(page []string) error) ([]string, error) {
	var out []string
	cursor := ""
	for range 10000 {
		page, next, err := l.Page(c, token, cursor, limit)
		if err == nil && len(page) > limit {
			err = fmt.Errorf("a page of %d threads, limit %d", len(page), limit)
		}
		if err == nil && visit != nil {
			err = visit(page)
		}
		if err != nil {
			return out, fmt.Errorf("%s walk, limit %d, page %q: %w", l.Name, limit, cursor, err)
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		cursor = next
	}
	return out, fmt.Errorf("%s walk, limit %d: does not end", l.Name, limit)
}

// walks checks that a walk of each list, at any page size and with the
// simulator mounted under a path prefix too, lists a filled inbox in
// Truth's order (or its reverse), and that an empty inbox lists as the
// provider writes it.
func walks[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	f := serve(t, tg, false, nil)
	f.Sim.Fill(tg.A.Key, 7, 2)
	want := ids(f.Sim.Truth(tg.A.Key))
	r := f.Get(tg.B.Token, tg.ListPath)
	WantStatus(t, r, http.StatusOK)
	if trimmed(r.Body) != tg.Empty {
		t.Fatalf("empty inbox: %s, want %s", r.Body, tg.Empty)
	}
	mux := http.NewServeMux()
	mux.Handle("/mounted/", http.StripPrefix("/mounted", f.Sim))
	mounted := httptest.NewServer(mux)
	defer mounted.Close()
	for _, l := range tg.Lists {
		order := slices.Clone(want)
		if l.Reverse {
			slices.Reverse(order)
		}
		for _, limit := range []int{1, 3, 7, 100} {
			if got, err := walk(f.Client, tg.A.Token, l, limit, nil); err != nil || !slices.Equal(got, order) {
				t.Fatalf("%s, limit %d: %v, %v; want %v", l.Name, limit, got, err, order)
			}
		}
		c := Client{URL: mounted.URL + "/mounted", Auth: tg.Auth}
		if got, err := walk(c, tg.A.Token, l, 3, nil); err != nil || !slices.Equal(got, order) {
			t.Fatalf("%s under a path prefix: %v, %v; want %v", l.Name, got, err, order)
		}
		if got, err := walk(f.Client, tg.B.Token, l, 10, nil); err != nil || len(got) != 0 {
			t.Fatalf("%s of B: %v, %v", l.Name, got, err)
		}
	}
}

// concurrentWalks walks each list while writers add messages and threads
// to A, and while B has live traffic; each walk lists what the list
// promises (see List), and once the writers stop a walk lists every
// thread once.
func concurrentWalks[S sim.Simulator, C any](t *testing.T, tg Target[S, C]) {
	f := serve(t, tg, false, time.Now)
	s := f.Sim
	s.Fill(tg.A.Key, 300, 2)
	s.Fill(tg.B.Key, 40, 2)
	before := s.Truth(tg.A.Key)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range 300 {
				// Only threads of even index are written to.
				th := before[2*rnd.IntN(len(before)/2)].ID
				s.Write(tg.A.Key, th, sim.Direction(i%2 == 1), "x")
				if i%50 == 0 {
					s.Open(tg.A.Key, "new")
				}
			}
		})
	}
	traffic := make(chan error, 1)
	go func() { traffic <- s.Traffic(ctx, tg.B.Key, 200, rand.New(rand.NewPCG(3, 3))) }()

	type walked struct {
		list    List
		account Account
		ids     []string
		err     error
	}
	var walkers sync.WaitGroup
	results := make(chan walked, 5*len(tg.Lists))
	for _, l := range tg.Lists {
		for w := range 5 {
			acct := tg.A
			if w == 4 {
				acct = tg.B
			}
			walkers.Go(func() {
				// Every page's first thread has its messages read too.
				got, err := walk(f.Client, acct.Token, l, 20+w*10, func(page []string) error {
					if len(page) == 0 {
						return nil
					}
					r, err := f.Request(http.MethodGet, acct.Token, tg.MessagesPath(page[0]), nil)
					if err == nil && r.Status != http.StatusOK {
						err = fmt.Errorf("messages of %s: %d %.300s", page[0], r.Status, r.Body)
					}
					return err
				})
				results <- walked{l, acct, got, err}
			})
		}
	}
	walkers.Wait()
	writers.Wait()
	cancel()
	if err := <-traffic; err != nil {
		t.Fatal(err)
	}
	close(results)
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if err := r.list.promise(r.ids, before, r.account == tg.A); err != nil {
			t.Errorf("%s walk of %s: %v", r.list.Name, r.account.Key, err)
		}
	}
	for _, acct := range []Account{tg.A, tg.B} {
		want := ids(s.Truth(acct.Key))
		slices.Sort(want)
		for _, l := range tg.Lists {
			got, err := walk(f.Client, acct.Token, l, 100, nil)
			slices.Sort(got)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s walk of %s once the writers stopped: %d threads, %v; want each of %d once", l.Name, acct.Key, len(got), err, len(want))
			}
		}
	}
}

// promise checks a walk made while the inbox changed: with written, of the
// inbox the writers wrote to, whose threads were before and the ones of
// even index were written to.
func (l List) promise(walked []string, before []sim.Thread, written bool) error {
	seen := map[string]int{}
	for _, id := range walked {
		if seen[id]++; l.Once && seen[id] > 1 {
			return fmt.Errorf("thread %s listed twice", id)
		}
	}
	if !written {
		return nil
	}
	for i, th := range before {
		if seen[th.ID] == 0 && (l.Keeps || i%2 == 1) {
			return fmt.Errorf("thread %s (%d of %d before the walk) not listed", th.ID, i, len(before))
		}
	}
	return nil
}
