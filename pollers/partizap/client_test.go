package partizap_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

const secret = "sess-0123456789abcdef"

func account(baseURL string, options map[string]string) pollers.Account {
	opts := map[string]string{"user_id": strconv.Itoa(vendorID)}
	for k, v := range options {
		opts[k] = v
	}
	return pollers.Account{Provider: partizap.Name, ID: "vendor-5", BaseURL: baseURL, Token: secret, InitialSync: pollers.SyncFull, Options: opts}
}

func newClient(t *testing.T, baseURL string, options map[string]string) pollers.Provider {
	t.Helper()
	p, err := partizap.New(account(baseURL, options), http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// simServer serves a simulator with one vendor, under a path prefix as a
// real deployment's base URL may have one.
func simServer(t *testing.T, cfg partizapsim.Config) (*partizapsim.Server, string) {
	t.Helper()
	sim := partizapsim.New(cfg)
	sim.AddVendor(vendorID, secret)
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", sim))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return sim, srv.URL + "/api"
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		opts  map[string]string
		token string
		want  string
	}{
		"no user_id":         {opts: map[string]string{}, want: "user_id is required"},
		"empty user_id":      {opts: map[string]string{"user_id": " "}, want: "user_id"},
		"unknown option":     {opts: map[string]string{"user_id": "5", "shop_id": "1"}, want: `unknown option "shop_id"`},
		"page_size 0":        {opts: map[string]string{"user_id": "5", "page_size": "0"}, want: "page_size"},
		"page_size 101":      {opts: map[string]string{"user_id": "5", "page_size": "101"}, want: "page_size"},
		"messages_page_size": {opts: map[string]string{"user_id": "5", "messages_page_size": "x"}, want: "messages_page_size"},
		"path without {id}":  {opts: map[string]string{"user_id": "5", "messages_path": "/vendor/messages"}, want: "{id}"},
		"path with two {id}": {opts: map[string]string{"user_id": "5", "messages_path": "/a/{id}/{id}"}, want: "{id}"},
		"relative path":      {opts: map[string]string{"user_id": "5", "messages_path": "vendor/{id}"}, want: "start with /"},
		"path with query":    {opts: map[string]string{"user_id": "5", "messages_path": "/m/{id}?all=1"}, want: "plain path"},
		"path with dots":     {opts: map[string]string{"user_id": "5", "messages_path": "/a/../{id}"}, want: ".."},
		"bad timezone":       {opts: map[string]string{"user_id": "5", "timezone": "Mars/Olympus"}, want: "timezone"},
		"bad offset":         {opts: map[string]string{"user_id": "5", "offset_pagination": "sometimes"}, want: "offset_pagination"},
		"token with ;":       {opts: map[string]string{"user_id": "5"}, token: "abc; admin=1", want: "cookie value"},
		"several at once":    {opts: map[string]string{"page_size": "0", "nope": "1"}, want: "user_id is required"},
	} {
		t.Run(name, func(t *testing.T) {
			a := account("http://127.0.0.1", nil)
			a.Options = tc.opts
			if tc.token != "" {
				a.Token = tc.token
			}
			_, err := partizap.New(a, http.DefaultClient)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), a.Token) {
				t.Fatalf("error %q shows the token", err)
			}
		})
	}
	p := newClient(t, "http://127.0.0.1/", map[string]string{
		"page_size": "50", "messages_path": "/vendor/chats/{id}/messages", "messages_page_size": "20",
		"timezone": "UTC", "offset_pagination": "false", "overlap": "1m", "requests_per_second": "2",
	})
	f := p.Features()
	if f.IncrementalList || f.ReplyNeededStated || f.OffsetPagination || !f.MessageCursor || f.RequestsPerSecond != partizap.DefaultRequestsPerSecond {
		t.Fatalf("features %+v", f)
	}
	if f := newClient(t, "http://127.0.0.1", nil).Features(); !f.OffsetPagination {
		t.Fatal("offset_pagination should default to true")
	}
}

// TestRequests checks what goes on the wire: the session cookie and nothing
// else secret, the limit, the cursor, the base URL's path.
func TestRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		switch {
		case r.URL.Query().Get("cursor") == "":
			fmt.Fprint(w, `{"data": [], "meta": {"has_more": true, "next_cursor": "eyJpZCI6NTAxMn0"}}`)
		default:
			fmt.Fprint(w, `{"data": [], "meta": {"has_more": false, "next_cursor": null}}`)
		}
	}))
	defer srv.Close()
	p := newClient(t, srv.URL+"/api/", map[string]string{"page_size": "7"})
	page, err := p.ListThreads(context.Background(), pollers.Query{})
	if err != nil || page.Next != "eyJpZCI6NTAxMn0" {
		t.Fatalf("first page: %+v %v", page, err)
	}
	if page, err = p.ListThreads(context.Background(), pollers.Query{Token: page.Next}); err != nil || page.Next != "" {
		t.Fatalf("last page: %+v %v", page, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, r := range seen {
		c, err := r.Cookie("PARTIZAP_SESSION")
		if err != nil || c.Value != secret {
			t.Errorf("request %d: session cookie %v %v", i, c, err)
		}
		if r.Header.Get("Authorization") != "" || strings.Contains(r.URL.String(), secret) {
			t.Errorf("request %d: the token is somewhere else than the cookie: %s %v", i, r.URL, r.Header)
		}
		if r.URL.Path != "/api/vendor/conversations" || r.URL.Query().Get("limit") != "7" {
			t.Errorf("request %d: %s", i, r.URL)
		}
	}
	if seen[1].URL.Query().Get("cursor") != "eyJpZCI6NTAxMn0" {
		t.Errorf("second request: %s", seen[1].URL)
	}
}

// TestWalkSimulator walks the simulator's list page by page: every
// conversation once, newest activity first.
func TestWalkSimulator(t *testing.T) {
	t.Parallel()
	for _, cfg := range []partizapsim.Config{{}, {IDsAsStrings: true, TimeLayout: time.DateTime, OffsetCursor: true}} {
		sim, base := simServer(t, cfg)
		sim.Seed(vendorID, 23, 3, time.Time{})
		p := newClient(t, base, map[string]string{"page_size": "5"})
		var ids []string
		var last time.Time
		q := pollers.Query{}
		for pages := 1; ; pages++ {
			page, err := p.ListThreads(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range page.Items {
				if !last.IsZero() && it.UpdatedAt.After(last) {
					t.Fatalf("thread %s updated %v after %v: not newest first", it.Thread.ID, it.UpdatedAt, last)
				}
				last = it.UpdatedAt
				ids = append(ids, it.Thread.ID)
			}
			if page.Next == "" {
				if pages != 5 {
					t.Fatalf("%d pages, want 5", pages)
				}
				break
			}
			q.Token = page.Next
		}
		truth := sim.Threads(vendorID)
		if len(ids) != len(truth) {
			t.Fatalf("listed %d conversations, want %d", len(ids), len(truth))
		}
		for i, th := range truth {
			// Newest first: the last created (and last written) comes first.
			if want := strconv.FormatInt(th.ID, 10); ids[len(ids)-1-i] != want {
				t.Fatalf("position %d: %s, want %s", len(ids)-1-i, ids[len(ids)-1-i], want)
			}
		}
	}
}

// fixed serves canned list bodies, one per request, the last one forever.
func fixed(t *testing.T, bodies ...string) string {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b := bodies[min(n, len(bodies)-1)]
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRepeatingCursor: a list whose next_cursor comes back within one walk
// fails the walk as malformed instead of looping; retrying a page after a
// failure and starting a walk again are no loops.
func TestRepeatingCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	poll := func(url string) (pollers.Stats, error) {
		a := account(url, nil)
		return pollerstest.NewWorld(t).Engine(pollers.Config{MinBackoff: time.Millisecond}, a).PollOnce(ctx, a.Provider, a.ID)
	}
	// The API hands out the cursor it was called with: a loop.
	if _, err := poll(fixed(t, `{"data": [], "meta": {"has_more": true, "next_cursor": "A"}}`)); !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("cursor A again after A: %v, want ErrMalformed", err)
	}
	// A longer loop: A -> B -> A.
	st, err := poll(fixed(t,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "A"}}`,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "B"}}`,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "A"}}`))
	if !errors.Is(err, pollers.ErrMalformed) || st.Pages > 2 {
		t.Fatalf("A -> B -> A: %+v %v, want ErrMalformed within 2 pages", st, err)
	}

	// Retrying a page (after a failure) and starting the walk again are no
	// loops: the client itself keeps no record of cursors.
	p := newClient(t, fixed(t,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "A"}}`,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "B"}}`,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "B"}}`,
		`{"data": [], "meta": {"has_more": true, "next_cursor": "A"}}`,
		`{"data": [], "meta": {"has_more": false, "next_cursor": null}}`), nil)
	for i, q := range []pollers.Query{{}, {Token: "A"}, {Token: "A"}, {}, {Token: "A"}} {
		if _, err := p.ListThreads(ctx, q); err != nil {
			t.Fatalf("request %d (%q): %v", i, q.Token, err)
		}
	}
}

func TestMalformedLists(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"has_more without cursor": `{"data": [], "meta": {"has_more": true, "next_cursor": null}}`,
		"no meta":                 `{"data": []}`,
		"no has_more":             `{"data": [], "meta": {"next_cursor": "A"}}`,
		"no data":                 `{"meta": {"has_more": false}}`,
		"data not a list":         `{"data": {}, "meta": {"has_more": false}}`,
		"bad conversation":        `{"data": [{"id": 1, "created_at": "2024-03-05T18:20:00+03:00"}, {"id": 2, "created_at": "later"}], "meta": {"has_more": false}}`,
		"not JSON":                `<html>Login</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := fixed(t, body)
			_, err := newClient(t, base, nil).ListThreads(context.Background(), pollers.Query{})
			if !errors.Is(err, pollers.ErrMalformed) {
				t.Fatalf("%v, want ErrMalformed", err)
			}
			if msg := err.Error(); !strings.Contains(msg, base+"/vendor/conversations") || strings.Contains(msg, secret) {
				t.Fatalf("error %q should name the URL and not the token", msg)
			}
			if name == "bad conversation" && !strings.Contains(err.Error(), `conversation 1 ("2")`) {
				t.Fatalf("error %q does not name the conversation", err)
			}
		})
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	sim, base := simServer(t, partizapsim.Config{})
	sim.Seed(vendorID, 3, 1, time.Time{})
	ctx := context.Background()
	p := newClient(t, base, nil)

	// A wrong session: 401, ErrAuth.
	bad := account(base, nil)
	bad.Token = "sess-wrong"
	pb, err := partizap.New(bad, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pb.ListThreads(ctx, pollers.Query{}); !errors.Is(err, pollers.ErrAuth) {
		t.Fatalf("wrong session: %v, want ErrAuth", err)
	}
	// 419, Laravel's "session expired": ErrAuth too, and still an HTTPError.
	sim.InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: 419})
	_, err = p.ListThreads(ctx, pollers.Query{})
	var he *pollers.HTTPError
	if !errors.Is(err, pollers.ErrAuth) || !errors.As(err, &he) || he.Status != 419 {
		t.Fatalf("419: %v, want ErrAuth", err)
	}
	// 429 carries Retry-After.
	sim.InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: 429, RetryAfter: "7"})
	if _, err = p.ListThreads(ctx, pollers.Query{}); !errors.As(err, &he) || he.RetryAfter != 7*time.Second {
		t.Fatalf("429: %v", err)
	}
	// A cursor the API refuses: the engine restarts the walk.
	if _, err = p.ListThreads(ctx, pollers.Query{Token: "bm90IGEgY3Vyc29y"}); !errors.Is(err, pollers.ErrTokenExpired) {
		t.Fatalf("refused cursor: %v, want ErrTokenExpired", err)
	}
}

func TestRealRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	sim, base := simServer(t, partizapsim.Config{RequestsPerSecond: 0.5, Burst: 1, Now: func() time.Time { return now }})
	p := newClient(t, base, nil)
	if _, err := p.ListThreads(context.Background(), pollers.Query{}); err != nil {
		t.Fatal(err)
	}
	_, err := p.ListThreads(context.Background(), pollers.Query{})
	var he *pollers.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || he.RetryAfter != 2*time.Second {
		t.Fatalf("second request within the limit's period: %v", err)
	}
	if st := sim.Stats(); st.RateLimited != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// item lists the conversation the way the engine would before Messages.
func item(t *testing.T, p pollers.Provider, id int64) *pollers.Item {
	t.Helper()
	q := pollers.Query{}
	for {
		page, err := p.ListThreads(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for i := range page.Items {
			if page.Items[i].Thread.ID == strconv.FormatInt(id, 10) {
				return &page.Items[i]
			}
		}
		if page.Next == "" {
			t.Fatalf("conversation %d not listed", id)
		}
		q.Token = page.Next
	}
}

func TestMessages(t *testing.T) {
	t.Parallel()
	for _, order := range []partizapsim.Order{partizapsim.NewestFirst, partizapsim.OldestFirst} {
		sim, base := simServer(t, partizapsim.Config{MessagesOrder: order})
		start := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)
		id := sim.AddThread(vendorID, partizapsim.NewThread{Buyer: "Ivan", At: start})
		for i := range 250 {
			from := partizapsim.Buyer
			if i%2 == 1 {
				from = partizapsim.Vendor
			}
			// Two messages per second: the wire shows equal times.
			sim.AddMessage(vendorID, id, from, "m"+strconv.Itoa(i), start.Add(time.Duration(i)*500*time.Millisecond))
		}
		p := newClient(t, base, map[string]string{"messages_page_size": "100"})
		it := item(t, p, id)
		truth, _ := sim.Thread(vendorID, id)

		sim.ResetStats()
		msgs, err := p.Messages(context.Background(), it, pollers.MessageCursor{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 250 || sim.Stats().MessagesCalls != 3 {
			t.Fatalf("order %d: %d messages in %d requests, want 250 in 3", order, len(msgs), sim.Stats().MessagesCalls)
		}
		for i, m := range msgs {
			want := truth.Messages[i]
			if m.ID != strconv.FormatInt(want.ID, 10) || string(m.Direction) != want.Direction || m.Text != want.Text {
				t.Fatalf("order %d: message %d is %+v, want %+v", order, i, m, want)
			}
		}
		if msgs[0].Sender != (events.Participant{ID: strconv.FormatInt(truth.BuyerID, 10), Name: "Ivan", Role: "buyer"}) {
			t.Fatalf("sender %+v", msgs[0].Sender)
		}

		// After the 240th message: a newest-first list stops at the first
		// page, an oldest-first one must be read to its end.
		sim.ResetStats()
		cur := pollers.MessageCursor{ID: msgs[239].ID, At: msgs[239].CreatedAt}
		msgs, err = p.Messages(context.Background(), it, cur)
		if err != nil {
			t.Fatal(err)
		}
		wantCalls := int64(3)
		if order == partizapsim.NewestFirst {
			wantCalls = 1
		}
		if calls := sim.Stats().MessagesCalls; calls != wantCalls {
			t.Fatalf("order %d: %d requests after the cursor, want %d", order, calls, wantCalls)
		}
		var newer int
		for _, m := range msgs {
			if !m.CreatedAt.Before(cur.At) {
				newer++
			}
		}
		if newer < 10 || msgs[len(msgs)-1].ID != strconv.FormatInt(truth.Messages[249].ID, 10) {
			t.Fatalf("order %d: after the cursor: %d messages at or after it, last %s", order, newer, msgs[len(msgs)-1].ID)
		}
	}
}

func TestMessagesEndpointMissing(t *testing.T) {
	t.Parallel()
	sim, base := simServer(t, partizapsim.Config{NoMessagesEndpoint: true})
	id := sim.AddThread(vendorID, partizapsim.NewThread{})
	sim.AddMessage(vendorID, id, partizapsim.Buyer, "hi", time.Time{})
	p := newClient(t, base, nil)
	_, err := p.Messages(context.Background(), item(t, p, id), pollers.MessageCursor{})
	var he *pollers.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || !strings.Contains(err.Error(), "messages_path") {
		t.Fatalf("missing endpoint: %v", err)
	}
}

func TestMessagesMalformed(t *testing.T) {
	t.Parallel()
	it := &pollers.Item{Thread: events.Thread{ID: "5012"}}
	for name, bodies := range map[string][]string{
		"cursor loop": {
			`{"data": [{"id": 1, "conversation_id": 5012, "sender_id": 5, "created_at": "2024-03-05T18:20:00+03:00"}], "meta": {"has_more": true, "next_cursor": "A"}}`,
			`{"data": [{"id": 2, "conversation_id": 5012, "sender_id": 5, "created_at": "2024-03-05T18:21:00+03:00"}], "meta": {"has_more": true, "next_cursor": "A"}}`,
		},
		"bad message":  {`{"data": [{"id": 1, "created_at": "2024-03-05T18:20:00+03:00"}, {"id": 2, "created_at": "?"}], "meta": {"has_more": false}}`},
		"no data":      {`{"meta": {"has_more": false}}`},
		"other thread": {`{"data": [{"id": 1, "conversation_id": 7, "created_at": "2024-03-05T18:20:00+03:00"}], "meta": {"has_more": false}}`},
		"no has_more":  {`{"data": []}`},
		"wrong type":   {`{"data": [{"id": {"x": 1}}], "meta": {"has_more": false}}`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := fixed(t, bodies...)
			_, err := newClient(t, base, nil).Messages(context.Background(), it, pollers.MessageCursor{})
			if !errors.Is(err, pollers.ErrMalformed) {
				t.Fatalf("%v, want ErrMalformed", err)
			}
			if msg := err.Error(); !strings.Contains(msg, base+"/vendor/conversations/5012/messages") || !strings.Contains(msg, "5012") {
				t.Fatalf("error %q does not name the URL and the conversation", msg)
			}
			if name == "bad message" && !strings.Contains(err.Error(), "message 1") {
				t.Fatalf("error %q does not name the message", err)
			}
		})
	}
}

// TestMessagesPathOption: the message list moves with messages_path, and
// ids with odd characters are escaped into it.
func TestMessagesPathOption(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.EscapedPath()
		fmt.Fprint(w, `{"data": [], "meta": {"has_more": false, "next_cursor": null}}`)
	}))
	defer srv.Close()
	p := newClient(t, srv.URL+"/api", map[string]string{"messages_path": "/v2/chats/{id}/history"})
	if _, err := p.Messages(context.Background(), &pollers.Item{Thread: events.Thread{ID: "a/b c"}}, pollers.MessageCursor{}); err != nil {
		t.Fatal(err)
	}
	if path := <-got; path != "/api/v2/chats/a%2Fb%20c/history" {
		t.Fatalf("requested %s", path)
	}
}
