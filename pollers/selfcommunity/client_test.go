package selfcommunity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// community is one simulator and a client of its owner.
type community struct {
	t      *testing.T
	sim    *selfcommunitysim.Server
	srv    *httptest.Server
	acct   pollers.Account
	client *selfcommunity.Client
}

func newCommunity(t *testing.T, cfg selfcommunitysim.Config, opts map[string]string) *community {
	t.Helper()
	sim := selfcommunitysim.New(cfg)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	token := randomToken()
	o := map[string]string{"user_id": sim.AddAccount(owner, token)}
	for k, v := range opts {
		o[k] = v
	}
	c := &community{t: t, sim: sim, srv: srv}
	c.acct = pollers.Account{Provider: selfcommunity.Name, ID: "owner", BaseURL: srv.URL, Token: token, Options: o}
	c.client = c.newClient(c.acct)
	return c
}

func (c *community) newClient(a pollers.Account) *selfcommunity.Client {
	c.t.Helper()
	p, err := selfcommunity.New(a, &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return p.(*selfcommunity.Client)
}

// walk lists every page from the start and returns the thread ids.
func (c *community) walk() []string {
	c.t.Helper()
	var ids []string
	q := pollers.Query{}
	for {
		p, err := c.client.ListThreads(context.Background(), q)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, it := range p.Items {
			ids = append(ids, it.Thread.ID)
		}
		if p.Next == "" {
			return ids
		}
		q.Token, q.State = p.Next, p.State
	}
}

// elsewhere is another host that counts the requests it gets.
func elsewhere(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"count":0,"next":null,"previous":null,"results":[]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	ok := pollers.Account{BaseURL: "https://community.example.com/", Token: "t", Options: map[string]string{"user_id": "7"}}
	if _, err := selfcommunity.New(ok, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		base string
		opts map[string]string
		want string
	}{
		{"https://c.example.com", map[string]string{}, "option user_id is required"},
		{"https://c.example.com", map[string]string{"user_id": "maria"}, "user_id"},
		{"https://c.example.com", map[string]string{"user_id": "0"}, "user_id"},
		{"https://c.example.com", map[string]string{"user_id": "7", "page_size": "0"}, "page_size"},
		{"https://c.example.com", map[string]string{"user_id": "7", "message_page_size": "1001"}, "message_page_size"},
		{"https://c.example.com", map[string]string{"user_id": "7", "timezone": "Mars/Olympus"}, "timezone"},
		{"https://c.example.com", map[string]string{"user_id": "7", "rebase_next": "maybe"}, "rebase_next"},
		{"https://c.example.com", map[string]string{"user_id": "7", "shop_id": "1"}, `unknown option "shop_id"`},
		{"ftp://c.example.com", map[string]string{"user_id": "7"}, "base_url"},
		{"/relative", map[string]string{"user_id": "7"}, "base_url"},
	} {
		_, err := selfcommunity.New(pollers.Account{BaseURL: tc.base, Token: "secret-token", Options: tc.opts}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret-token") {
			t.Errorf("%s %v: %v, want an error about %s", tc.base, tc.opts, err, tc.want)
		}
	}
}

func TestFeatures(t *testing.T) {
	t.Parallel()
	f := newHarness().Features()
	if f.IncrementalList || !f.MessageCursor || f.ReplyNeededStated || !f.OffsetPagination || f.RequestsPerSecond <= 0 {
		t.Fatalf("features %+v", f)
	}
}

func TestListFollowsNextLinks(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, map[string]string{"page_size": "4"})
	c.sim.Seed(owner, 10, 2)
	p, err := c.client.ListThreads(context.Background(), pollers.Query{})
	if err != nil {
		t.Fatal(err)
	}
	// The token is DRF's next link itself.
	if want := c.srv.URL + "/api/v2/pm/?limit=4&offset=4"; p.Next != want || len(p.Items) != 4 || p.Drift {
		t.Fatalf("first page: next %q, %d items, drift %v; want %q", p.Next, len(p.Items), p.Drift, want)
	}
	truth := c.sim.Threads(owner)
	var want []string
	for i := len(truth) - 1; i >= 0; i-- {
		want = append(want, truth[i].ID)
	}
	if got := c.walk(); !slices.Equal(got, want) {
		t.Fatalf("walk %v, want newest first %v", got, want)
	}
	if st := c.sim.Stats(); st.Snippets != 4 || st.Thread != 0 {
		t.Fatalf("stats %+v: one request per page, no message request", st)
	}
}

func TestListUnderAPathPrefix(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	mux := http.NewServeMux()
	mux.Handle("/community/", http.StripPrefix("/community", sim))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	uid := sim.AddAccount(owner, "tok")
	sim.Seed(owner, 5, 1)
	c := &community{t: t, sim: sim, srv: srv}
	c.client = c.newClient(pollers.Account{BaseURL: srv.URL + "/community/", Token: "tok", Options: map[string]string{"user_id": uid, "page_size": "2"}})
	if got := c.walk(); len(got) != 5 {
		t.Fatalf("walk under /community listed %v", got)
	}
}

func TestOffHostNextIsNeverRequested(t *testing.T) {
	t.Parallel()
	other, hits := elsewhere(t)
	c := newCommunity(t, selfcommunitysim.Config{}, map[string]string{"page_size": "4"})
	th := c.sim.AddThread(owner, selfcommunitysim.NewThread{})
	// A list page and a message page whose next links leave the community.
	for _, next := range []string{other.URL + "/api/v2/pm/?limit=4&offset=4", "https://" + strings.TrimPrefix(c.srv.URL, "http://") + "/api/v2/pm/?limit=4&offset=4"} {
		c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK,
			Body: `{"count": 9, "next": "` + next + `", "previous": null, "results": []}`})
		_, err := c.client.ListThreads(context.Background(), pollers.Query{})
		if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), "rebase_next") || strings.Contains(err.Error(), c.acct.Token) {
			t.Fatalf("list page with next %s: %v", next, err)
		}
	}
	c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointThread, Status: http.StatusOK,
		Body: `{"count": 9, "next": "` + other.URL + `/api/v2/pm/?thread=` + th + `&offset=1", "previous": null, "results": []}`})
	_, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th}}, pollers.MessageCursor{})
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), other.URL) {
		t.Fatalf("message page with an off-host next: %v", err)
	}
	// A token stored by an older configuration is not sent either: the
	// walk starts again.
	_, err = c.client.ListThreads(context.Background(), pollers.Query{Token: other.URL + "/api/v2/pm/?limit=4&offset=4"})
	if !errors.Is(err, pollers.ErrTokenExpired) || !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("off-host token: %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the other host got %d requests", n)
	}
}

func TestRebaseNext(t *testing.T) {
	t.Parallel()
	other, hits := elsewhere(t)
	// A community behind a proxy that builds links with its internal host.
	c := newCommunity(t, selfcommunitysim.Config{LinkBase: other.URL}, map[string]string{"page_size": "3", "message_page_size": "2"})
	c.sim.Seed(owner, 7, 5)
	if _, err := c.client.ListThreads(context.Background(), pollers.Query{}); !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("without rebase_next: %v", err)
	}
	c.acct.Options["rebase_next"] = "true"
	c.client = c.newClient(c.acct)
	if got := c.walk(); len(got) != 7 {
		t.Fatalf("rebased walk listed %d threads", len(got))
	}
	th := c.sim.Threads(owner)[0]
	msgs, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th.ID}}, pollers.MessageCursor{})
	if err != nil || len(msgs) != 5 {
		t.Fatalf("rebased message pages: %d messages, %v", len(msgs), err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal host got %d requests", n)
	}
}

func TestTokenTheAPINoLongerServes(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, nil)
	_, err := c.client.ListThreads(context.Background(), pollers.Query{Token: c.srv.URL + "/api/v2/pm/gone/?limit=4&offset=4"})
	var he *pollers.HTTPError
	if !errors.Is(err, pollers.ErrTokenExpired) || !errors.As(err, &he) || he.Status != http.StatusNotFound {
		t.Fatalf("404 on a token: %v", err)
	}
	// Without a token a 404 is just an error.
	c.sim.InjectFault(selfcommunitysim.Fault{Status: http.StatusNotFound})
	if _, err := c.client.ListThreads(context.Background(), pollers.Query{}); errors.Is(err, pollers.ErrTokenExpired) {
		t.Fatalf("404 on the first page: %v", err)
	}
}

func TestDriftWhenTheCountChanges(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, map[string]string{"page_size": "3"})
	c.sim.Seed(owner, 9, 1)
	p1, err := c.client.ListThreads(context.Background(), pollers.Query{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.client.ListThreads(context.Background(), pollers.Query{Token: p1.Next, State: p1.State})
	if err != nil || p2.Drift {
		t.Fatalf("quiet page: drift %v, %v", p2.Drift, err)
	}
	// A thread on the first page is hidden: everything after it moves up
	// one place, and the walk would skip a thread without a duplicate to
	// tell.
	c.sim.HideThread(owner, p1.Items[0].Thread.ID)
	p3, err := c.client.ListThreads(context.Background(), pollers.Query{Token: p2.Next, State: p2.State})
	if err != nil || !p3.Drift {
		t.Fatalf("page after a hide: drift %v, %v", p3.Drift, err)
	}
}

func TestMessagesFromTheCursor(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, map[string]string{"message_page_size": "2"})
	th := c.sim.AddThread(owner, selfcommunitysim.NewThread{Text: "q1"})
	c.sim.AddMessage(owner, th, selfcommunitysim.Owner, "a1", time.Time{})
	c.sim.AddMessage(owner, th, selfcommunitysim.Other, "q2", time.Time{})
	it := &pollers.Item{Thread: events.Thread{ID: th}}

	all, err := c.client.Messages(context.Background(), it, pollers.MessageCursor{})
	if err != nil || len(all) != 3 {
		t.Fatalf("all messages: %v %v", all, err)
	}
	truth, _ := c.sim.Thread(owner, th)
	for i, m := range all {
		w := truth.Messages[i]
		if m.ID != w.ID || string(m.Direction) != w.Direction || m.Text != w.Text || !m.CreatedAt.Equal(w.At) {
			t.Fatalf("message %d: %+v, want %+v", i, m, w)
		}
	}
	c.sim.AddMessage(owner, th, selfcommunitysim.Owner, "a2", time.Time{})
	c.sim.AddMessage(owner, th, selfcommunitysim.Other, "q3", time.Time{})
	c.sim.ResetStats()
	last := all[len(all)-1]
	got, err := c.client.Messages(context.Background(), it, pollers.MessageCursor{ID: last.ID, At: last.CreatedAt})
	if err != nil || len(got) != 2 || got[0].Text != "a2" || got[1].Text != "q3" || got[0].Direction != events.Outbound || got[1].Direction != events.Inbound {
		t.Fatalf("after the cursor: %+v %v", got, err)
	}
	// from_message: the server sent the cursor message and the two new
	// ones, in two pages of two.
	if st := c.sim.Stats(); st.Thread != 2 || st.MessagesListed != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMessagesNewestFirstComeBackOldestFirst(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{MessagesNewestFirst: true}, map[string]string{"message_page_size": "2"})
	c.sim.Seed(owner, 1, 5)
	th := c.sim.Threads(owner)[0]
	got, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th.ID}}, pollers.MessageCursor{})
	if err != nil || len(got) != 5 {
		t.Fatal(got, err)
	}
	for i, m := range got {
		if m.ID != th.Messages[i].ID {
			t.Fatalf("message %d is %s, want %s", i, m.ID, th.Messages[i].ID)
		}
	}
}

func TestMessagesReadAgainWhenTheThreadMoves(t *testing.T) {
	t.Parallel()
	sim := selfcommunitysim.New(selfcommunitysim.Config{MessagesNewestFirst: true})
	token := randomToken()
	uid := sim.AddAccount(owner, token)
	sim.Seed(owner, 1, 5)
	th := sim.Threads(owner)[0].ID
	// A message arrives right after the first page: newest first, every
	// offset shifts by one.
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if r.URL.Query().Has("thread") && pages.Add(1) == 1 {
			sim.AddMessage(owner, th, selfcommunitysim.Other, "one more", time.Time{})
		}
	}))
	t.Cleanup(srv.Close)
	c := &community{t: t, sim: sim, srv: srv}
	c.client = c.newClient(pollers.Account{BaseURL: srv.URL, Token: token, Options: map[string]string{"user_id": uid, "message_page_size": "2"}})
	got, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: th}}, pollers.MessageCursor{})
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := sim.Thread(owner, th)
	var ids, want []string
	for _, m := range got {
		ids = append(ids, m.ID)
	}
	for _, m := range truth.Messages {
		want = append(want, m.ID)
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("read %v, want %v", ids, want)
	}
	if n := pages.Load(); n != 2+3 {
		t.Fatalf("%d message pages, want 2 (the count moved on the second) then a full read of 3", n)
	}
}

func TestRetryAfterFromTheBody(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, nil)
	c.sim.InjectFault(selfcommunitysim.Fault{Status: http.StatusTooManyRequests,
		Body: `{"detail":"Request was throttled. Expected available in 7 seconds."}`})
	c.sim.InjectFault(selfcommunitysim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "2",
		Body: `{"detail":"Request was throttled. Expected available in 7 seconds."}`})
	for _, want := range []time.Duration{7 * time.Second, 2 * time.Second} {
		_, err := c.client.ListThreads(context.Background(), pollers.Query{})
		var he *pollers.HTTPError
		if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || c.client.RetryAfter(he) != want {
			t.Fatalf("429: %v, want a retry after %s", err, want)
		}
	}
}

func TestLenientBodies(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, nil)
	uid := c.acct.Options["user_id"]
	c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK, Body: `{
	  "count": "1", "next": null, "previous": null, "extra": {"x": [1, 2]},
	  "results": [{"id": "311", "headline": null, "sender": {"id": "42", "username": "maria", "avatar": null, "status": "a"},
	    "receiver": {"id": ` + uid + `, "username": "owner"}, "created_at": "2024-02-01T09:00:12+01:00",
	    "last_message_at": "2024-03-05T17:22:40.551Z", "thread_status": "archived", "group": {"id": 5}}]}`})
	p, err := c.client.ListThreads(context.Background(), pollers.Query{})
	if err != nil || len(p.Items) != 1 || p.Items[0].Thread.ID != "311" || p.Items[0].Thread.Participants[0].ID != uid {
		t.Fatalf("lenient page: %+v %v", p, err)
	}
}

func TestMappingErrorsNameTheURLAndTheItem(t *testing.T) {
	t.Parallel()
	c := newCommunity(t, selfcommunitysim.Config{}, nil)
	c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK, Body: `{"count": 2, "next": null, "results": [
	  {"id": 1, "created_at": "2024-02-01T09:00:12+01:00"}, {"id": 2, "created_at": "last Tuesday"}]}`})
	_, err := c.client.ListThreads(context.Background(), pollers.Query{})
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), c.srv.URL+"/api/v2/pm/?limit=100") ||
		!strings.Contains(err.Error(), `thread 1 (id "2")`) || !strings.Contains(err.Error(), "created_at") {
		t.Fatalf("bad snippet: %v", err)
	}
	c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointThread, Status: http.StatusOK, Body: `{"count": 1, "next": null, "results": [
	  {"id": 9001, "thread_id": 5, "created_at": "2024-02-01T09:00:12+01:00"}]}`})
	_, err = c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: "4"}}, pollers.MessageCursor{})
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), "thread=4") || !strings.Contains(err.Error(), `message 0 (id "9001")`) {
		t.Fatalf("message of another thread: %v", err)
	}
	for _, body := range []string{`{"count": 1, "next": null}`, `{"count": 1, "results": {}}`, `[]`} {
		c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointThread, Status: http.StatusOK, Body: body})
		if _, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: "4"}}, pollers.MessageCursor{}); !errors.Is(err, pollers.ErrMalformed) {
			t.Fatalf("message page %s: %v", body, err)
		}
	}
	// A next link that goes nowhere would loop.
	c.sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK,
		Body: `{"count": 5, "next": "` + c.srv.URL + `/api/v2/pm/?limit=100", "results": [{"id": 1, "created_at": "2024-02-01T09:00:12+01:00"}]}`})
	if _, err := c.client.ListThreads(context.Background(), pollers.Query{}); !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("self-referencing next: %v", err)
	}
}

func TestBearerTokenOnlyInTheHeader(t *testing.T) {
	t.Parallel()
	var seen []string
	var bad atomic.Bool
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	token := randomToken()
	uid := sim.AddAccount(owner, token)
	sim.Seed(owner, 3, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token || strings.Contains(r.URL.String(), token) {
			bad.Store(true)
		}
		seen = append(seen, r.URL.Path)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := &community{t: t, sim: sim, srv: srv}
	c.client = c.newClient(pollers.Account{BaseURL: srv.URL, Token: token, Options: map[string]string{"user_id": uid, "page_size": "2"}})
	for _, id := range c.walk() {
		if _, err := c.client.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: id}}, pollers.MessageCursor{}); err != nil {
			t.Fatal(err)
		}
	}
	if bad.Load() || len(seen) != 2+3 {
		t.Fatalf("requests %v; token misplaced: %v", seen, bad.Load())
	}
}
