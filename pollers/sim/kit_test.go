package sim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIndex(t *testing.T) {
	type item struct {
		n  int64
		id string
	}
	x := Index[string, *item]{Key: func(i *item) (int64, string) { return i.n, i.id }}
	a, b, c, d := &item{1, "b"}, &item{1, "a"}, &item{2, "a"}, &item{0, "z"}
	x.Append(c, a)
	x.Sort()
	x.Insert(b)
	x.Insert(d)
	if got := x.Items(); !slices.Equal(got, []*item{d, b, a, c}) {
		t.Fatalf("order %v", got)
	}
	if x.Search(1, "b") != 2 || x.After(1, "b") != 3 || x.Search(1, "") != 1 || x.Search(3, "") != 4 {
		t.Fatalf("search %d, after %d, from %d %d", x.Search(1, "b"), x.After(1, "b"), x.Search(1, ""), x.Search(3, ""))
	}
	x.Remove(a)
	a.n = 5
	x.Insert(a)
	if got := x.Items(); !slices.Equal(got, []*item{d, b, c, a}) || x.Len() != 4 || x.At(3) != a {
		t.Fatalf("after the move %v", got)
	}
}

func TestSet(t *testing.T) {
	var s Set[string]
	s.Put("a", true)
	s.Put("b", true)
	s.Put("a", true)
	s.Put("c", false)
	_, hasA := s.pos["a"]
	_, hasC := s.pos["c"]
	if s.Len() != 2 || !hasA || hasC {
		t.Fatalf("set %v", s.items)
	}
	s.Put("a", false)
	if _, hasA := s.pos["a"]; s.Len() != 1 || s.At(0) != "b" || hasA {
		t.Fatalf("set after removal %v", s.items)
	}
}

func TestAccounts(t *testing.T) {
	as := Accounts[*int]{Noun: "shop", Prefix: "testsim"}
	made := 0
	create := func(n int) *int { made++; v := n; return &v }
	c := as.Add("1", "tok-1", create, Buckets(1, 1))
	if again := as.Add("1", "tok-1", create, nil); again != c || made != 1 || c.Limit == nil || *c.Account != 0 {
		t.Fatalf("adding again: %+v, %d made", again, made)
	}
	as.Add("2", "tok-2", create, nil, "read")
	if c2 := as.Token("tok-2"); c2 == nil || c2.Key != "2" || *c2.Account != 1 || c2.Limit != nil || !slices.Equal(c2.Scopes, []string{"read"}) {
		t.Fatalf("second account %+v", c2)
	}
	if _, err := as.Get("3"); err == nil || err.Error() != `testsim: unknown shop "3"` {
		t.Fatalf("unknown account: %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a credential given to two accounts did not panic")
			}
		}()
		as.Add("2", "tok-1", create, nil)
	}()
	if len(as.byKey) != 2 || as.Token("nope") != nil {
		t.Fatalf("%d accounts", len(as.byKey))
	}
}

// TestChain checks the order every simulated request goes through: auth,
// the counter, one-shot faults, sustained faults, the rate limit, then the
// handler.
func TestChain(t *testing.T) {
	clock := NewClock(time.Unix(0, 0))
	var as Accounts[string]
	as.Add("acct", "tok", func(int) string { return "acct" }, Buckets(1, 1))
	k := NewKit(API{
		Endpoints: []string{"list", "get"}, List: "list", Messages: []string{"get"}, Counters: []string{"served"},
		Error:    func(w http.ResponseWriter, status int, policy string) { http.Error(w, "error "+policy, status) },
		NotFound: http.NotFound,
	})
	auth := func(w http.ResponseWriter, r *http.Request) *Cred[string] {
		c := as.Token(r.Header.Get("Authorization"))
		if c == nil {
			http.Error(w, "who", http.StatusUnauthorized)
		}
		return c
	}
	limit := func(w http.ResponseWriter, c *Cred[string]) bool {
		return k.Throttle(w, c.Limit, clock.Now(), true, func(w http.ResponseWriter, secs int) { http.Error(w, "slow down", http.StatusTooManyRequests) })
	}
	for _, e := range []string{"list", "get"} {
		k.Handle("GET /"+e, Endpoint(k, e, auth, limit, func(w http.ResponseWriter, _ *http.Request, a string) {
			k.Add("served", 1)
			_, _ = io.WriteString(w, a)
		}))
	}
	srv := httptest.NewServer(k)
	defer srv.Close()
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)) + resp.Header.Get("Retry-After")
	}
	k.InjectFault(Fault{Endpoint: "list", Status: http.StatusTeapot, Policy: "p"})
	k.SetSchedule(Rule{Every: 3, Status: http.StatusBadGateway})
	for i, want := range []struct {
		path, tok string
		status    int
		body      string
	}{
		{"/list", "bad", 401, "who"},
		{"/list", "tok", 418, "error p"}, // the fault, before the schedule and the limiter
		{"/get", "tok", 200, "acct"},     // the limiter's token
		{"/get", "tok", 502, "error"},    // the schedule's third request, sparing the limiter
		{"/list", "tok", 429, "slow down1"},
		{"/nope", "tok", 404, "404 page not found"},
	} {
		if status, body := get(want.path, want.tok); status != want.status || body != want.body {
			t.Fatalf("request %d: %d %q, want %d %q", i+1, status, body, want.status, want.body)
		}
	}
	if list, messages := k.Requests(); list != 2 || messages != 2 || k.Count(Unauthorized) != 1 || k.Count(Faulted) != 1 ||
		k.Count(RateLimited) != 1 || k.Count("served") != 1 || k.ScheduleStats("acct").Requests != 4 {
		t.Fatalf("requests %d %d, counts %d %d %d %d, observed %+v", list, messages, k.Count(Unauthorized), k.Count(Faulted),
			k.Count(RateLimited), k.Count("served"), k.ScheduleStats("acct"))
	}
	k.ResetStats()
	if list, _ := k.Requests(); list != 0 || k.ScheduleStats("acct").Requests != 0 {
		t.Fatal("ResetStats left counts")
	}
}

func TestStep(t *testing.T) {
	var mu noLock
	ran := ""
	ev := func(name string, share float64, ok bool) Event {
		return Event{Name: name, Share: share, Do: func() bool { ran = name; return ok }}
	}
	events := []Event{ev("open", 0.2, true), ev("write", 0.5, true), ev("answer", 0.3, false)}
	for _, c := range []struct {
		p     float64
		empty bool
		want  string
		ran   string
	}{
		{0.1, false, "open", "open"},
		{0.3, false, "write", "write"},
		{0.9, false, None, "answer"},
		{0.9, true, "open", "open"},
	} {
		if got := Step(&mu, c.p, func() bool { return c.empty }, events...); got != c.want || ran != c.ran {
			t.Errorf("p %v empty %v: %q ran %q, want %q ran %q", c.p, c.empty, got, ran, c.want, c.ran)
		}
	}
	if mu.locks != 4 || mu.held {
		t.Fatalf("locked %d times, held %v", mu.locks, mu.held)
	}
}

type noLock struct {
	locks int
	held  bool
}

func (l *noLock) Lock()   { l.locks++; l.held = true }
func (l *noLock) Unlock() { l.held = false }

func TestNameTokenLink(t *testing.T) {
	if Name("Kind", 2, "", "a", "b") != "b" || Name("Kind", 0, "", "a") != "Kind(0)" || Name("Kind", 7, "", "a") != "Kind(7)" {
		t.Fatal("Name")
	}
	type tok struct{ N int }
	var got tok
	if s := EncodeToken(tok{5}); !DecodeToken(s, &got) || got.N != 5 || DecodeToken("%%", &got) {
		t.Fatalf("token %q -> %+v", s, got)
	}
	var link string
	h := http.StripPrefix("/p", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		link = Link(r, "", url.Values{"b": {"2"}, "a": {"1"}})
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://host/p/list?x=1", nil))
	if link != "http://host/p/list?a=1&b=2" {
		t.Fatalf("link %q", link)
	}
}
