package olx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
)

// clientFixture is a simulator behind a recording handler and a client
// reading it.
type clientFixture struct {
	sim  *olxsim.Server
	srv  *httptest.Server
	tok  string
	mu   sync.Mutex
	reqs []*http.Request
	// after, when set, runs after each request is served.
	after func(r *http.Request)
}

func newClientFixture(t *testing.T, cfg olxsim.Config) *clientFixture {
	t.Helper()
	f := &clientFixture{sim: olxsim.New(cfg), tok: randomToken()}
	f.sim.AddAccount(simAccount, f.tok)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		after := f.after
		f.mu.Unlock()
		f.sim.ServeHTTP(w, r)
		if after != nil {
			after(r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *clientFixture) client(t *testing.T, opts map[string]string) *olx.Client {
	t.Helper()
	p, err := olx.New(pollers.Account{Provider: olx.Name, ID: "t", BaseURL: f.srv.URL, Token: f.tok, Options: opts}, f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return p.(*olx.Client)
}

func (f *clientFixture) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...)
}

// walk lists every page and returns the thread ids in order and the pages.
func walk(t *testing.T, c *olx.Client) ([]string, []pollers.Page) {
	t.Helper()
	var ids []string
	var pages []pollers.Page
	q := pollers.Query{}
	for {
		p, err := c.ListThreads(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		for _, it := range p.Items {
			ids = append(ids, it.Thread.ID)
		}
		if p.Next == "" {
			return ids, pages
		}
		if len(pages) > 1000 {
			t.Fatal("endless walk")
		}
		q.Token = p.Next
	}
}

func listed(sim *olxsim.Server) []string {
	var ids []string
	for _, th := range sim.Threads(simAccount) {
		ids = append(ids, th.ID)
	}
	return ids
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	good := []map[string]string{
		nil,
		{"timezone": "Europe/Warsaw", "page_size": "2", "message_page_size": "1", "end_of_list": "empty", "offset_base": "1"},
		{"timezone": "Asia/Almaty", "page_size": "1000", "end_of_list": "short", "offset_base": "0", "overlap": "1m", "requests_per_second": "3"},
	}
	for _, o := range good {
		if _, err := olx.New(pollers.Account{BaseURL: "https://www.olx.pl", Token: "x", Options: o}, nil); err != nil {
			t.Errorf("options %v: %v", o, err)
		}
	}
	for name, o := range map[string]map[string]string{
		"timezone":                 {"timezone": "Europe/Atlantis"},
		`timezone ""`:              {"timezone": ""},
		`timezone "Local"`:         {"timezone": "Local"},
		"page_size":                {"page_size": "1"},
		`page_size "x"`:            {"page_size": "x"},
		"message_page_size":        {"message_page_size": "0"},
		"end_of_list":              {"end_of_list": "never"},
		"offset_base":              {"offset_base": "2"},
		`unknown option "shop_id"`: {"shop_id": "2001"},
	} {
		_, err := olx.New(pollers.Account{BaseURL: "https://www.olx.pl", Token: "x", Options: o}, nil)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("options %v: error %v, want one naming %s", o, err, name)
		}
	}
	p, _ := olx.New(pollers.Account{BaseURL: "https://www.olx.pl"}, nil)
	if ft := p.Features(); ft.IncrementalList || !ft.OffsetPagination || ft.ReplyNeededStated || ft.MessageCursor || ft.RequestsPerSecond <= 0 {
		t.Errorf("features %+v", ft)
	}
}

// Every request carries the bearer token and Version 2.0, no Content-Type,
// and the token nowhere else; /api/partner is added to the base URL once.
func TestRequests(t *testing.T) {
	t.Parallel()
	f := newClientFixture(t, olxsim.Config{})
	f.sim.Seed(simAccount, 3, 2, time.Time{})
	for _, base := range []string{f.srv.URL, f.srv.URL + "/", f.srv.URL + "/api/partner", f.srv.URL + "/api/partner/"} {
		p, err := olx.New(pollers.Account{BaseURL: base, Token: f.tok}, f.srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		page, err := p.ListThreads(context.Background(), pollers.Query{})
		if err != nil || len(page.Items) != 3 {
			t.Fatalf("base %s: %d threads, %v", base, len(page.Items), err)
		}
		if _, err := p.Messages(context.Background(), &page.Items[0], pollers.MessageCursor{}); err != nil {
			t.Fatalf("base %s: %v", base, err)
		}
	}
	for _, r := range f.requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+f.tok {
			t.Errorf("%s: Authorization %q", r.URL, got)
		}
		if got := r.Header.Get("Version"); got != "2.0" {
			t.Errorf("%s: Version %q", r.URL, got)
		}
		if ct, ok := r.Header["Content-Type"]; ok {
			t.Errorf("%s: Content-Type %q on a GET", r.URL, ct)
		}
		if !strings.HasPrefix(r.URL.Path, "/api/partner/threads") || strings.Contains(r.URL.String(), f.tok) {
			t.Errorf("request URL %s", r.URL)
		}
	}
	if st := f.sim.Stats(); st.GETContentType != 0 || st.MissingVersion != 0 || st.Unauthorized != 0 {
		t.Errorf("simulator refused requests: %+v", st)
	}
}

func TestWalkPages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		cfg    olxsim.Config
		opts   map[string]string
		n      int
		leaves int // list requests
	}{
		{"short end", olxsim.Config{}, map[string]string{"page_size": "4"}, 9, 3},                         // 4, 1+3, 1+2 (short)
		{"exact fit", olxsim.Config{}, map[string]string{"page_size": "4"}, 7, 3},                         // 4, 1+3 (full), 1+0
		{"empty end", olxsim.Config{}, map[string]string{"page_size": "4", "end_of_list": "empty"}, 9, 4}, // and 1+0
		{"bare array", olxsim.Config{BareArray: true}, map[string]string{"page_size": "3"}, 5, 3},
		{"1-based offsets", olxsim.Config{OffsetBase: 1}, map[string]string{"page_size": "3", "offset_base": "1"}, 8, 4},
		{"empty list", olxsim.Config{}, nil, 0, 1},
		{"one thread", olxsim.Config{}, map[string]string{"page_size": "2"}, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newClientFixture(t, c.cfg)
			f.sim.Seed(simAccount, c.n, 1, time.Time{})
			ids, pages := walk(t, f.client(t, c.opts))
			if want := listed(f.sim); strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Fatalf("walk listed %v, want %v", ids, want)
			}
			for i, p := range pages {
				if p.Drift {
					t.Errorf("page %d reports drift on a quiet list", i)
				}
			}
			if got := f.sim.Stats().Threads; got != int64(c.leaves) {
				t.Errorf("%d list requests, want %d", got, c.leaves)
			}
		})
	}
}

// The check thread at each page's start tells whether the list moved
// under the walk, whichever way.
func TestDrift(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		move  func(sim *olxsim.Server, ids []string) // ids: the list before the walk
		drift bool
	}{
		{"quiet", func(*olxsim.Server, []string) {}, false},
		{"thread below the cursor answered", func(sim *olxsim.Server, ids []string) {
			sim.AddMessage(simAccount, ids[7], olxsim.Interlocutor, "hello?", time.Time{})
		}, true},
		{"new thread", func(sim *olxsim.Server, _ []string) {
			th := sim.AddThread(simAccount, olxsim.NewThread{})
			sim.AddMessage(simAccount, th, olxsim.Interlocutor, "hi", time.Time{})
		}, true},
		{"thread above the cursor deleted", func(sim *olxsim.Server, ids []string) {
			sim.DeleteThread(simAccount, ids[1])
		}, true},
		{"thread above the cursor answered", func(sim *olxsim.Server, ids []string) {
			sim.AddMessage(simAccount, ids[2], olxsim.Owner, "sure", time.Time{})
		}, false},
		{"thread read", func(sim *olxsim.Server, ids []string) { sim.MarkRead(simAccount, ids[5]) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newClientFixture(t, olxsim.Config{})
			f.sim.Seed(simAccount, 10, 1, time.Time{})
			before := listed(f.sim)
			c1 := f.client(t, map[string]string{"page_size": "4"})
			p1, err := c1.ListThreads(context.Background(), pollers.Query{})
			if err != nil || p1.Drift || p1.Next == "" {
				t.Fatalf("first page: %+v, %v", p1, err)
			}
			c.move(f.sim, before)
			p2, err := c1.ListThreads(context.Background(), pollers.Query{Token: p1.Next})
			if err != nil {
				t.Fatal(err)
			}
			if p2.Drift != c.drift {
				t.Fatalf("second page drift %v, want %v", p2.Drift, c.drift)
			}
			if !c.drift && (len(p2.Items) != 3 || p2.Items[0].Thread.ID != before[4]) {
				t.Fatalf("second page starts at %v, want %s after the check thread", p2.Items, before[4])
			}
		})
	}
}

func TestBadPageToken(t *testing.T) {
	t.Parallel()
	f := newClientFixture(t, olxsim.Config{})
	c := f.client(t, nil)
	for _, tok := range []string{"x", "12", "0:5", "-3:5", "7:", "page_token_from_another_provider"} {
		_, err := c.ListThreads(context.Background(), pollers.Query{Token: tok})
		if !errors.Is(err, pollers.ErrTokenExpired) {
			t.Errorf("token %q: %v, want ErrTokenExpired", tok, err)
		}
	}
}

func TestMessagesPaging(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		cfg      olxsim.Config
		opts     map[string]string
		n        int
		requests int
	}{
		{"one page", olxsim.Config{}, nil, 5, 1},
		{"pages ending short", olxsim.Config{}, map[string]string{"message_page_size": "2"}, 5, 3},
		{"total reached", olxsim.Config{}, map[string]string{"message_page_size": "2"}, 4, 2},
		{"newest first", olxsim.Config{MessagesNewestFirst: true}, map[string]string{"message_page_size": "3"}, 7, 3},
		{"empty end", olxsim.Config{}, map[string]string{"message_page_size": "2", "end_of_list": "empty"}, 3, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newClientFixture(t, c.cfg)
			f.sim.Seed(simAccount, 1, c.n, time.Time{})
			cl := f.client(t, c.opts)
			page, err := cl.ListThreads(context.Background(), pollers.Query{})
			if err != nil || len(page.Items) != 1 {
				t.Fatalf("list: %+v, %v", page, err)
			}
			msgs, err := cl.Messages(context.Background(), &page.Items[0], pollers.MessageCursor{})
			if err != nil {
				t.Fatal(err)
			}
			truth := f.sim.Threads(simAccount)[0].Messages
			if len(msgs) != len(truth) {
				t.Fatalf("%d messages, want %d", len(msgs), len(truth))
			}
			for i, m := range msgs {
				w := truth[i]
				if m.ID != w.ID || !m.CreatedAt.Equal(w.At) || string(m.Direction) != w.Direction || m.Text != w.Text {
					t.Errorf("message %d: %+v, want %+v", i, m, w)
				}
			}
			if got := f.sim.Stats().Messages; got != int64(c.requests) {
				t.Errorf("%d message requests, want %d", got, c.requests)
			}
		})
	}
}

// A thread's list item says who the interlocutor is; Messages names them
// as the sender of inbound messages, and the owner of outbound ones.
func TestMessagesMapping(t *testing.T) {
	t.Parallel()
	waw := mustZone("Europe/Warsaw")
	f := newClientFixture(t, olxsim.Config{Location: waw})
	at := time.Date(2024, 3, 2, 13, 5, 11, 0, time.UTC)
	th := f.sim.AddThread(simAccount, olxsim.NewThread{AdvertID: 880011, InterlocutorID: 5501, At: at})
	in := f.sim.AddMessageWithAttachments(simAccount, th, olxsim.Interlocutor, "Is it still available?", at,
		olxsim.Attachment{Name: "photo.jpg", URL: "https://example.invalid/photo.jpg"})
	out := f.sim.AddMessage(simAccount, th, olxsim.Owner, "Yes.", at.Add(time.Hour))
	cl := f.client(t, map[string]string{"timezone": "Europe/Warsaw"})
	page, err := cl.ListThreads(context.Background(), pollers.Query{})
	if err != nil {
		t.Fatal(err)
	}
	it := page.Items[0]
	if it.Thread.ID != th || !it.Thread.CreatedAt.Equal(at) || it.Thread.Reference != (events.Reference{Type: "advert", ID: "880011"}) ||
		len(it.Thread.Participants) != 1 || it.Thread.Participants[0] != (events.Participant{ID: "5501", Role: "interlocutor"}) {
		t.Fatalf("thread %+v", it.Thread)
	}
	msgs, err := cl.Messages(context.Background(), &it, pollers.MessageCursor{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("messages %+v", msgs)
	}
	if m := msgs[0]; m.ID != in || !m.CreatedAt.Equal(at) || m.Direction != events.Inbound ||
		m.Sender != (events.Participant{ID: "5501", Role: "interlocutor"}) ||
		len(m.Attachments) != 1 || m.Attachments[0] != (events.Attachment{ID: "https://example.invalid/photo.jpg", Name: "photo.jpg"}) {
		t.Errorf("inbound %+v", m)
	}
	if m := msgs[1]; m.ID != out || !m.CreatedAt.Equal(at.Add(time.Hour)) || m.Direction != events.Outbound || m.Sender.Role != "owner" {
		t.Errorf("outbound %+v", m)
	}

	// Read in UTC instead, the same times are an hour off: the option is
	// what makes them right.
	utc := f.client(t, nil)
	page, _ = utc.ListThreads(context.Background(), pollers.Query{})
	if got := page.Items[0].Thread.CreatedAt; !got.Equal(at.Add(time.Hour)) {
		t.Errorf("read as UTC: %v, want %v", got, at.Add(time.Hour))
	}
}

// A list item without advert_id refers to nothing.
func TestListItemWithoutAdvert(t *testing.T) {
	t.Parallel()
	f := newClientFixture(t, olxsim.Config{OmitAdvertID: true})
	f.sim.Seed(simAccount, 1, 2, time.Time{})
	page, err := f.client(t, nil).ListThreads(context.Background(), pollers.Query{})
	if err != nil || page.Items[0].Thread.Reference != (events.Reference{}) {
		t.Fatalf("item without advert_id: %+v, %v", page.Items, err)
	}
}

// Errors name the URL and the thread, wrap the right sentinel, and never
// carry the token.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := newClientFixture(t, olxsim.Config{})
	f.sim.Seed(simAccount, 2, 2, time.Time{})
	cl := f.client(t, nil)
	page, err := cl.ListThreads(context.Background(), pollers.Query{})
	if err != nil {
		t.Fatal(err)
	}
	it := page.Items[1]
	check := func(err error, is error, parts ...string) {
		t.Helper()
		if err == nil || !errors.Is(err, is) {
			t.Fatalf("error %v, want %v", err, is)
		}
		for _, p := range append(parts, f.srv.URL) {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %q", err, p)
			}
		}
		if strings.Contains(err.Error(), f.tok) {
			t.Errorf("error %q carries the token", err)
		}
	}

	f.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: 200, Body: `{"data": [{"id": 1, "created_at": "2024-03-02 14:05:11"}, {"id": 2, "created_at": "soon"}]}`})
	_, err = cl.ListThreads(context.Background(), pollers.Query{})
	check(err, pollers.ErrMalformed, "/api/partner/threads?offset=0", `thread 1 (id "2")`, "created_at")

	f.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointMessages, Status: 200, Body: `{"data": [{"id": 77, "created_at": "2024-13-45 99:00:00", "type": "received"}]}`})
	_, err = cl.Messages(context.Background(), &it, pollers.MessageCursor{})
	check(err, pollers.ErrMalformed, "/api/partner/threads/"+it.Thread.ID+"/messages", "thread "+it.Thread.ID, "message 77")

	f.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointMessages, Status: 200, Body: `{"data": {"id": 1}}`})
	_, err = cl.Messages(context.Background(), &it, pollers.MessageCursor{})
	check(err, pollers.ErrMalformed, "/messages")

	// A server that ignores offset would repeat the first page for ever.
	many := newClientFixture(t, olxsim.Config{})
	many.sim.Seed(simAccount, 1, 3, time.Time{})
	mc := many.client(t, map[string]string{"message_page_size": "2"})
	p, _ := mc.ListThreads(context.Background(), pollers.Query{})
	body := `{"data": [{"id": 1, "created_at": "2024-03-02 14:05:11"}, {"id": 2, "created_at": "2024-03-02 14:05:11"}]}`
	many.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointMessages, Status: 200, Body: body, Times: 2})
	_, err = mc.Messages(context.Background(), &p.Items[0], pollers.MessageCursor{})
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), "offset ignored") {
		t.Fatalf("repeated page: %v", err)
	}

	bad, _ := olx.New(pollers.Account{BaseURL: f.srv.URL, Token: "wrong-" + f.tok}, f.srv.Client())
	_, err = bad.ListThreads(context.Background(), pollers.Query{})
	if !errors.Is(err, pollers.ErrAuth) || strings.Contains(err.Error(), f.tok) {
		t.Fatalf("wrong token: %v", err)
	}

	f.sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: 429, RetryAfter: "7"})
	_, err = cl.ListThreads(context.Background(), pollers.Query{})
	var he *pollers.HTTPError
	if !errors.As(err, &he) || he.Status != 429 || he.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v", err)
	}
}
