package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
)

const (
	testPortal = "24000001"
	testToken  = "pat-na1-00000000-1111-2222-3333-444444444444"
)

var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// env is a simulator behind a recorder, and a client of it.
type env struct {
	t   *testing.T
	sim *hubspotsim.Server
	srv *httptest.Server
	c   *Client

	mu   sync.Mutex
	reqs []*http.Request
}

func newEnv(t *testing.T, cfg hubspotsim.Config, opts map[string]string) *env {
	t.Helper()
	e := &env{t: t, sim: hubspotsim.New(cfg)}
	e.sim.AddAccount(testPortal, testToken)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reqs = append(e.reqs, r.Clone(context.Background()))
		e.mu.Unlock()
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.c = e.client(opts)
	return e
}

func (e *env) client(opts map[string]string) *Client {
	e.t.Helper()
	p, err := New(pollers.Account{Provider: Name, ID: "a", BaseURL: e.srv.URL + "/", Token: testToken, Options: opts}, e.srv.Client())
	if err != nil {
		e.t.Fatal(err)
	}
	return p.(*Client)
}

// requests returns the requests so far and forgets them.
func (e *env) requests() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.reqs
	e.reqs = nil
	return r
}

// walk lists every page from q, returning the thread ids in order.
func (e *env) walk(q pollers.Query) []string {
	e.t.Helper()
	var ids []string
	for range 1000 {
		p, err := e.c.ListThreads(context.Background(), q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range p.Items {
			ids = append(ids, it.Thread.ID)
		}
		if p.Next == "" {
			return ids
		}
		q.Token = p.Next
	}
	e.t.Fatal("walk does not end")
	return nil
}

func ids(ths []hubspotsim.ThreadInfo, keep func(hubspotsim.ThreadInfo) bool) []string {
	var out []string
	for _, th := range ths {
		if keep == nil || keep(th) {
			out = append(out, th.ID)
		}
	}
	return out
}

func TestNewValidatesOptions(t *testing.T) {
	ok := []map[string]string{
		nil,
		{"inbox_ids": "147959634, 147959635,147959634", "include_archived": "true", "page_size": "1",
			"message_page_size": "100", "timezone": "America/New_York", "original_content": "false",
			"overlap": "2m", "requests_per_second": "5"},
	}
	for _, o := range ok {
		if _, err := New(pollers.Account{BaseURL: "https://api.hubapi.com", Options: o}, nil); err != nil {
			t.Errorf("options %v: %v", o, err)
		}
	}
	c, _ := New(pollers.Account{BaseURL: "https://api.hubapi.com", Options: ok[1]}, nil)
	if got := c.(*Client).inboxIDs; !slices.Equal(got, []string{"147959634", "147959635"}) {
		t.Errorf("inbox ids %q", got)
	}
	for _, o := range []map[string]string{
		{"shop_id": "1"},
		{"inbox_ids": "abc"},
		{"inbox_ids": " , "},
		{"include_archived": "maybe"},
		{"original_content": "2"},
		{"page_size": "0"},
		{"page_size": "101"},
		{"message_page_size": "x"},
		{"timezone": "Mars/Olympus"},
		{"timezone": "Local"},
	} {
		_, err := New(pollers.Account{BaseURL: "https://api.hubapi.com", Options: o}, nil)
		if err == nil {
			t.Errorf("options %v accepted", o)
			continue
		}
		for k := range o {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("error %q does not name option %s", err, k)
			}
		}
	}
}

func TestListQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"page_size": "2", "inbox_ids": "5,6"})
	inbox := e.sim.InboxID(testPortal)
	for range 3 {
		e.sim.AddThread(testPortal, hubspotsim.NewThread{InboxID: "5"})
	}
	e.sim.AddThread(testPortal, hubspotsim.NewThread{InboxID: inbox})
	since := time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.UTC)

	// An incremental walk sorts by latestMessageTimestamp from Since, to
	// the millisecond rounded down; every page repeats the query.
	e.walk(pollers.Query{Since: since, Walk: pollers.WalkIncremental})
	reqs := e.requests()
	for i, r := range reqs {
		q := r.URL.Query()
		if r.URL.Path != threadsPath || q.Get("sort") != "latestMessageTimestamp" ||
			q.Get("latestMessageTimestampAfter") != "2024-03-01T10:00:00.123Z" || q.Get("limit") != "2" ||
			!slices.Equal(q["inboxId"], []string{"5", "6"}) || q.Get("association") != "TICKET" {
			t.Fatalf("request %d: %s", i, r.URL)
		}
		if (i > 0) != q.Has("after") {
			t.Fatalf("request %d: after %q", i, q.Get("after"))
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Fatalf("Authorization %q", got)
		}
	}

	// Sweeps and initial walks list everything in id order.
	for _, q := range []pollers.Query{{Walk: pollers.WalkInitial}, {Since: since, Walk: pollers.WalkSweep}, {Walk: pollers.WalkIncremental}} {
		got := e.walk(q)
		for _, r := range e.requests() {
			if v := r.URL.Query(); v.Has("sort") || v.Has("latestMessageTimestampAfter") {
				t.Fatalf("walk %v: %s", q.Walk, r.URL)
			}
		}
		if want := ids(e.sim.Threads(testPortal), func(th hubspotsim.ThreadInfo) bool { return th.InboxID == "5" }); !slices.Equal(got, want) {
			t.Fatalf("walk %v: %v, want the threads of inbox 5 %v", q.Walk, got, want)
		}
	}
}

// TestWalkResumesWithTheSameQuery: the page token carries the query, so a
// resumed walk asks what the first page asked even when the engine passes
// another Since.
func TestWalkResumesWithTheSameQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"page_size": "3"})
	e.sim.Seed(testPortal, 7, 2, t0)
	ctx := context.Background()
	p1, err := e.c.ListThreads(ctx, pollers.Query{Since: t0, Walk: pollers.WalkIncremental})
	if err != nil || p1.Next == "" {
		t.Fatal(p1, err)
	}
	p2, err := e.c.ListThreads(ctx, pollers.Query{Since: t0.Add(time.Hour), Token: p1.Next, Walk: pollers.WalkIncremental})
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.requests()
	a, b := reqs[0].URL.Query(), reqs[1].URL.Query()
	b.Del("after")
	if a.Encode() != b.Encode() {
		t.Fatalf("resumed query %s, first %s", b.Encode(), a.Encode())
	}
	if len(p2.Items) != 3 || p2.Items[0].Thread.ID == p1.Items[0].Thread.ID {
		t.Fatalf("second page %+v", p2.Items)
	}
}

func TestWalkPagesEveryThreadOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"page_size": "5"})
	e.sim.Seed(testPortal, 23, 3, t0)
	got := e.walk(pollers.Query{})
	if want := ids(e.sim.Threads(testPortal), nil); !slices.Equal(got, want) {
		t.Fatalf("walk %v, want %v", got, want)
	}
	if n := len(e.requests()); n != 5 {
		t.Fatalf("%d requests for 23 threads by 5", n)
	}
	// Incremental: only what changed since.
	th := e.sim.Threads(testPortal)
	later := t0.Add(24 * time.Hour)
	e.sim.AddMessage(testPortal, th[3].ID, hubspotsim.Visitor, "hello?", later)
	e.sim.AddComment(testPortal, th[9].ID, "note", later.Add(time.Second))
	got = e.walk(pollers.Query{Since: later, Walk: pollers.WalkIncremental})
	if !slices.Equal(got, []string{th[3].ID, th[9].ID}) {
		t.Fatalf("incremental walk %v", got)
	}
}

func TestIncludeArchived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"page_size": "2"})
	e.sim.Seed(testPortal, 5, 1, t0)
	th := e.sim.Threads(testPortal)
	e.sim.SetArchived(testPortal, th[1].ID, true)
	e.sim.SetArchived(testPortal, th[4].ID, true)
	active := []string{th[0].ID, th[2].ID, th[3].ID}
	if got := e.walk(pollers.Query{}); !slices.Equal(got, active) {
		t.Fatalf("default walk %v, want the active threads %v", got, active)
	}
	e.c = e.client(map[string]string{"page_size": "2", "include_archived": "true"})
	e.requests()
	got := e.walk(pollers.Query{})
	if want := append(slices.Clone(active), th[1].ID, th[4].ID); !slices.Equal(got, want) {
		t.Fatalf("walk with archived threads %v, want %v", got, want)
	}
	var archived []bool
	for _, r := range e.requests() {
		archived = append(archived, r.URL.Query().Get("archived") == "true")
	}
	if !slices.Equal(archived, []bool{false, false, true}) {
		t.Fatalf("archived parameter per page %v", archived)
	}
}

func TestPageTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, nil)
	ctx := context.Background()
	for _, tok := range []string{"garbage", "1:%zz", "1:x:limit=1", "1:1700000000000:%zz"} {
		if _, err := e.c.ListThreads(ctx, pollers.Query{Token: tok}); !errors.Is(err, pollers.ErrTokenExpired) {
			t.Errorf("token %q: %v, want ErrTokenExpired", tok, err)
		}
	}
	// A cursor HubSpot refuses restarts the walk too.
	_, err := e.c.ListThreads(ctx, pollers.Query{Token: encodeToken(url.Values{"after": {"not-a-cursor"}})})
	if !errors.Is(err, pollers.ErrTokenExpired) {
		t.Fatalf("refused cursor: %v, want ErrTokenExpired", err)
	}
	// Without a cursor, a 400 is an ordinary error.
	e.sim.InjectFault(hubspotsim.Fault{Status: http.StatusBadRequest})
	if _, err := e.c.ListThreads(ctx, pollers.Query{}); err == nil || errors.Is(err, pollers.ErrTokenExpired) {
		t.Fatalf("400 on a first page: %v", err)
	}
}

func TestMessagesOldestFirstAndOnlyMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"message_page_size": "2"})
	th := e.sim.AddThread(testPortal, hubspotsim.NewThread{Welcome: "Hi!", At: t0})
	in := e.sim.AddMessageWithAttachments(testPortal, th, hubspotsim.Visitor, "order 42?", t0.Add(time.Second), hubspotsim.Attachment{Name: "a.png"})
	e.sim.AddComment(testPortal, th, "VIP", t0.Add(2*time.Second))
	out := e.sim.AddMessage(testPortal, th, hubspotsim.Agent, "on its way", t0.Add(3*time.Second))
	in2 := e.sim.AddMessage(testPortal, th, hubspotsim.Visitor, "thanks", t0.Add(4*time.Second))

	msgs, err := e.c.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th}}, pollers.MessageCursor{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, m.ID+" "+string(m.Direction))
	}
	if want := []string{in + " inbound", out + " outbound", in2 + " inbound"}; !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	if m := msgs[0]; m.Text != "order 42?" || len(m.Attachments) != 1 || m.Attachments[0].Name != "a.png" ||
		m.Sender.Role != "visitor" || !m.CreatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("first message %+v", m)
	}
	if n := len(e.requests()); n != 3 {
		t.Fatalf("%d requests for 5 entries by 2", n)
	}
}

// TestMessagesStopAtTheCursor: only the pages down to the newest message
// already seen are read.
func TestMessagesStopAtTheCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"message_page_size": "5"})
	th := e.sim.AddThread(testPortal, hubspotsim.NewThread{At: t0})
	var all []string
	for i := range 25 {
		from := hubspotsim.Visitor
		if i%2 == 1 {
			from = hubspotsim.Agent
		}
		all = append(all, e.sim.AddMessage(testPortal, th, from, fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second)))
	}
	it := &pollers.Item{Thread: events.Thread{ID: th}}
	for _, c := range []struct {
		seen  int // messages already seen
		pages int
	}{{25, 1}, {22, 1}, {20, 2}, {19, 2}, {3, 5}, {0, 5}} {
		after := pollers.MessageCursor{}
		if c.seen > 0 {
			after = pollers.MessageCursor{ID: all[c.seen-1], At: t0.Add(time.Duration(c.seen-1) * time.Second)}
		}
		msgs, err := e.c.Messages(context.Background(), it, after)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, m.ID)
		}
		want := all[c.seen:]
		if !slices.Equal(got, want) {
			t.Fatalf("after %d seen: %d messages, want %d", c.seen, len(got), len(want))
		}
		if n := len(e.requests()); n != c.pages {
			t.Fatalf("after %d seen: %d pages read, want %d", c.seen, n, c.pages)
		}
	}
}

// TestMessagesInAscendingOrder: should HubSpot send messages oldest first,
// every page is read and the result is the same.
func TestMessagesInAscendingOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, map[string]string{"message_page_size": "2"})
	th := e.sim.AddThread(testPortal, hubspotsim.NewThread{At: t0})
	var all []string
	for i := range 5 {
		all = append(all, e.sim.AddMessage(testPortal, th, hubspotsim.Visitor, "m", t0.Add(time.Duration(i)*time.Minute)))
	}
	asc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("sort", "createdAt")
		r.URL.RawQuery = q.Encode()
		e.sim.ServeHTTP(w, r)
	}))
	defer asc.Close()
	p, _ := New(pollers.Account{BaseURL: asc.URL, Token: testToken, Options: map[string]string{"message_page_size": "2"}}, asc.Client())
	msgs, err := p.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th}},
		pollers.MessageCursor{ID: all[3], At: t0.Add(3 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != all[4] {
		t.Fatalf("%+v", msgs)
	}
}

func TestOriginalContent(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("très long ", 20)
	e := newEnv(t, hubspotsim.Config{TruncateAt: 15}, nil)
	th := e.sim.AddThread(testPortal, hubspotsim.NewThread{At: t0})
	e.sim.AddMessage(testPortal, th, hubspotsim.Visitor, long, t0)
	e.sim.AddMessage(testPortal, th, hubspotsim.Agent, "short", t0.Add(time.Second))
	it := &pollers.Item{Thread: events.Thread{ID: th}}
	ctx := context.Background()

	msgs, err := e.c.Messages(ctx, it, pollers.MessageCursor{})
	if err != nil || msgs[0].Text != long || msgs[1].Text != "short" {
		t.Fatalf("%+v %v", msgs, err)
	}
	if st := e.sim.Stats(); st.OriginalContentCalls != 1 {
		t.Fatalf("%d original-content calls, want 1 (for the truncated message only)", st.OriginalContentCalls)
	}
	// A message gone from original-content keeps its truncated text.
	e.sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointOriginalContent, Status: http.StatusNotFound})
	msgs, err = e.c.Messages(ctx, it, pollers.MessageCursor{})
	if err != nil || msgs[0].Text != "très long trè" {
		t.Fatalf("%q %v", msgs[0].Text, err)
	}
	// Other failures fail the fetch.
	e.sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointOriginalContent, Status: http.StatusBadGateway})
	if _, err = e.c.Messages(ctx, it, pollers.MessageCursor{}); err == nil {
		t.Fatal("502 on original-content ignored")
	}
	// Switched off, the truncated text is kept without a request.
	e.c = e.client(map[string]string{"original_content": "false"})
	e.sim.ResetStats()
	msgs, err = e.c.Messages(ctx, it, pollers.MessageCursor{})
	if err != nil || msgs[0].Text != "très long trè" || e.sim.Stats().OriginalContentCalls != 0 {
		t.Fatalf("%q %v %+v", msgs[0].Text, err, e.sim.Stats())
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	_, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	// 03:00 UTC is 22:00 the day before in New York (EST).
	now := time.Date(2024, 3, 1, 3, 0, 0, 0, time.UTC)
	e := newEnv(t, hubspotsim.Config{Now: func() time.Time { return now }}, map[string]string{"timezone": "America/New_York"})
	e.c.now = func() time.Time { return now }
	ctx := context.Background()
	retryAfter := func(f hubspotsim.Fault) (time.Duration, error) {
		t.Helper()
		e.sim.InjectFault(f)
		_, err := e.c.ListThreads(ctx, pollers.Query{})
		var he *pollers.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests {
			t.Fatalf("%+v: %v, want an HTTPError 429", f, err)
		}
		return e.c.RetryAfter(he), err
	}
	if d, _ := retryAfter(hubspotsim.Fault{Status: 429}); d != BurstRetry {
		t.Errorf("burst 429 without Retry-After: wait %s, want %s", d, BurstRetry)
	}
	if d, _ := retryAfter(hubspotsim.Fault{Status: 429, RetryAfter: "3"}); d != 3*time.Second {
		t.Errorf("burst 429 with Retry-After 3: wait %s", d)
	}
	d, err := retryAfter(hubspotsim.Fault{Status: 429, Policy: hubspotsim.PolicyDaily})
	if want := 2*time.Hour + dailyResetMargin; d != want {
		t.Errorf("daily 429 at 22:00 in New York: wait %s, want %s", d, want)
	}
	if !strings.Contains(err.Error(), "daily API limit") || !strings.Contains(err.Error(), "2024-03-01T00:00:00-05:00") {
		t.Errorf("error %q does not say when the daily limit resets", err)
	}
	if d, _ := retryAfter(hubspotsim.Fault{Status: 429, Policy: hubspotsim.PolicyDaily, RetryAfter: "60"}); d != time.Minute {
		t.Errorf("daily 429 with Retry-After 60: wait %s", d)
	}
	// A body cut before policyName still tells the daily limit by its message.
	if d, _ := retryAfter(hubspotsim.Fault{Status: 429, Body: `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"x`}); d != 2*time.Hour+dailyResetMargin {
		t.Errorf("truncated daily body: wait %s", d)
	}

	// The simulator's own limits give the same answers.
	e2 := newEnv(t, hubspotsim.Config{Now: func() time.Time { return now }, RequestsPerSecond: 0.1}, nil)
	e2.c.now = func() time.Time { return now }
	if _, err := e2.c.ListThreads(ctx, pollers.Query{}); err != nil {
		t.Fatal(err)
	}
	var he *pollers.HTTPError
	if _, err := e2.c.ListThreads(ctx, pollers.Query{}); !errors.As(err, &he) || e2.c.RetryAfter(he) != BurstRetry {
		t.Fatalf("second request in the window: %v", err)
	}
	e3 := newEnv(t, hubspotsim.Config{Now: func() time.Time { return now }, DailyLimit: 1}, nil)
	e3.c.now = func() time.Time { return now }
	_, _ = e3.c.ListThreads(ctx, pollers.Query{})
	if _, err := e3.c.ListThreads(ctx, pollers.Query{}); !errors.As(err, &he) || e3.c.RetryAfter(he) != 21*time.Hour+dailyResetMargin {
		t.Fatalf("daily limit at 03:00 UTC: %v", err)
	}
}

func TestNextMidnight(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	for _, c := range []struct {
		now  time.Time
		loc  *time.Location
		want time.Time
	}{
		{time.Date(2024, 3, 1, 23, 59, 0, 0, time.UTC), time.UTC, time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.UTC, time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)},
		// 23:30 UTC is already the next day in Berlin.
		{time.Date(2024, 3, 1, 23, 30, 0, 0, time.UTC), berlin, time.Date(2024, 3, 3, 0, 0, 0, 0, berlin)},
		// The day clocks go forward has 23 hours.
		{time.Date(2024, 3, 31, 0, 0, 0, 0, berlin), berlin, time.Date(2024, 4, 1, 0, 0, 0, 0, berlin)},
	} {
		if got := nextMidnight(c.now, c.loc); !got.Equal(c.want) {
			t.Errorf("nextMidnight(%v, %v) = %v, want %v", c.now, c.loc, got, c.want)
		}
	}
}

// TestErrorsNameWhereNotTheToken: mapping errors wrap ErrMalformed and name
// the URL and the thread or message; none shows the token.
func TestErrorsNameWhereNotTheToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, hubspotsim.Config{}, nil)
	ctx := context.Background()
	for _, c := range []struct {
		endpoint, body string
		want           []string
	}{
		{hubspotsim.EndpointThreads, `{"results": [{"id": "1", "createdAt": "2024-03-01T09:00:00Z"}, {"id": "2", "createdAt": "noon"}]}`,
			[]string{"thread 1 (\"2\")", "createdAt", threadsPath}},
		{hubspotsim.EndpointThreads, `{"paging": {}}`, []string{"no results array"}},
		{hubspotsim.EndpointThreads, `{"results": "no"}`, []string{threadsPath}},
		{hubspotsim.EndpointMessages, `{"results": [{"type": "MESSAGE", "id": "m7", "createdAt": 17.5}]}`,
			[]string{"message 0 (\"m7\")", "/messages"}},
		{hubspotsim.EndpointMessages, `{"results": [{"type": "MESSAGE", "createdAt": "2024-03-01T09:00:00Z"}]}`,
			[]string{"message 0", "without id"}},
		{hubspotsim.EndpointMessages, `{"results": [], "paging": {"next": {"after": ""}}}`, nil},
	} {
		e.sim.InjectFault(hubspotsim.Fault{Endpoint: c.endpoint, Status: 200, Body: c.body})
		var err error
		if c.endpoint == hubspotsim.EndpointThreads {
			_, err = e.c.ListThreads(ctx, pollers.Query{})
		} else {
			_, err = e.c.Messages(ctx, &pollers.Item{Thread: events.Thread{ID: "7509711001"}}, pollers.MessageCursor{})
		}
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if !errors.Is(err, pollers.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", c.body, err)
			continue
		}
		for _, w := range append(c.want, "GET http://") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error %q shows the token", err)
		}
	}
	// A cursor that repeats itself is no endless walk.
	e.sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointMessages, Status: 200, Times: 2,
		Body: `{"results": [{"type": "MESSAGE", "id": "m1", "createdAt": "2024-03-01T09:00:00Z"}], "paging": {"next": {"after": "x"}}}`})
	if _, err := e.c.Messages(ctx, &pollers.Item{Thread: events.Thread{ID: "1"}}, pollers.MessageCursor{}); !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("repeating cursor: %v", err)
	}
	// HTTP errors and wrong credentials.
	bad, _ := New(pollers.Account{BaseURL: e.srv.URL, Token: "pat-na1-wrong"}, e.srv.Client())
	_, err := bad.ListThreads(ctx, pollers.Query{})
	if !errors.Is(err, pollers.ErrAuth) || strings.Contains(err.Error(), "pat-na1-wrong") {
		t.Fatalf("wrong token: %v", err)
	}
	e.sim.AddToken(testPortal, "pat-na1-no-scope")
	noScope, _ := New(pollers.Account{BaseURL: e.srv.URL, Token: "pat-na1-no-scope"}, e.srv.Client())
	if _, err := noScope.ListThreads(ctx, pollers.Query{}); !errors.Is(err, pollers.ErrAuth) {
		t.Fatalf("token without conversations.read: %v", err)
	}
	if _, err := e.c.Messages(ctx, &pollers.Item{Thread: events.Thread{ID: "404"}}, pollers.MessageCursor{}); err == nil {
		t.Fatal("messages of an unknown thread")
	}
}

// TestBaseURLWithPath: a base URL with a path (a proxy, providersim's
// /hubspot prefix) keeps it, and thread ids are escaped into the path.
func TestBaseURLWithPath(t *testing.T) {
	t.Parallel()
	sim := hubspotsim.New(hubspotsim.Config{})
	sim.AddAccount(testPortal, testToken)
	th := sim.AddThread(testPortal, hubspotsim.NewThread{At: t0})
	sim.AddMessage(testPortal, th, hubspotsim.Visitor, "hi", t0)
	var paths []string
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.Handle("/proxy/hubspot/", http.StripPrefix("/proxy/hubspot", sim))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath())
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	p, err := New(pollers.Account{BaseURL: srv.URL + "/proxy/hubspot/", Token: testToken}, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	page, err := p.ListThreads(ctx, pollers.Query{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("%+v %v", page, err)
	}
	if msgs, err := p.Messages(ctx, &page.Items[0], pollers.MessageCursor{}); err != nil || len(msgs) != 1 {
		t.Fatalf("%+v %v", msgs, err)
	}
	_, _ = p.Messages(ctx, &pollers.Item{Thread: events.Thread{ID: "a/b?c"}}, pollers.MessageCursor{})
	want := []string{
		"/proxy/hubspot/conversations/v3/conversations/threads",
		"/proxy/hubspot/conversations/v3/conversations/threads/" + th + "/messages",
		"/proxy/hubspot/conversations/v3/conversations/threads/a%2Fb%3Fc/messages",
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths %q, want %q", paths, want)
	}
}
