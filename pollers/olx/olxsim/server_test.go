package olxsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(acctA, NewThread{})
	f.Sim.AddMessage(acctA, th, Interlocutor, "hi", time.Time{})
	list := "/api/partner/threads"

	r := f.Get(tokenA, list, "Version:")
	if e := apiError(t, r); r.Status != http.StatusBadRequest || e.Title != "Missing required header" {
		t.Fatalf("without Version: %d %s", r.Status, r.Body)
	}
	r = f.Get(tokenA, list, "Version: 1.0")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("Version 1.0: %d %s", r.Status, r.Body)
	}
	r = f.Get(tokenA, list, "Content-Type: application/json")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("GET with Content-Type: %d %s", r.Status, r.Body)
	}
	st := f.Sim.Stats()
	if st.MissingVersion != 2 || st.GETContentType != 1 || st.Threads != 0 {
		t.Fatalf("stats %+v", st)
	}

	lax := newFixture(t, Config{AllowGETContentType: true})
	r = lax.Get(tokenA, list, "Content-Type: application/json")
	if r.Status != http.StatusOK || lax.Sim.Stats().GETContentType != 1 {
		t.Fatalf("lax GET with Content-Type: %d, stats %+v", r.Status, lax.Sim.Stats())
	}
	// POST bodies carry one, as they should.
	r = f.Post(tokenA, list+"/"+th+"/commands", `{"command":"mark-as-read"}`)
	if r.Status != http.StatusNoContent {
		t.Fatalf("POST with Content-Type: %d %s", r.Status, r.Body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	thA := f.Sim.AddThread(acctA, NewThread{})
	thB := f.Sim.AddThread(acctB, NewThread{})
	for name, hdr := range map[string]string{
		"missing":       "Authorization:",
		"unknown token": "Authorization: Bearer nope",
		"no Bearer":     "Authorization: " + tokenA,
		"basic":         "Authorization: Basic " + tokenA,
	} {
		r := f.Get(tokenA, "/api/partner/threads", hdr)
		var e oauthError
		if r.Status != http.StatusUnauthorized || json.Unmarshal(r.Body, &e) != nil || e.Error != "invalid_token" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), tokenA) {
			t.Errorf("%s: the answer echoes the token", name)
		}
	}
	if st := f.Sim.Stats(); st.Unauthorized != 4 || st.Threads != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Each token sees its own account only.
	if got := ids(f.threads(tokenA, "")); len(got) != 1 || strconv.FormatInt(got[0], 10) != thA {
		t.Fatalf("account A lists %v", got)
	}
	if r := f.Get(tokenA, "/api/partner/threads/"+thB); r.Status != http.StatusNotFound {
		t.Fatalf("thread of B with A's token: %d", r.Status)
	}
	if r := f.Get(tokenA, "/api/partner/threads/"+thB+"/messages"); r.Status != http.StatusNotFound {
		t.Fatalf("messages of B's thread with A's token: %d", r.Status)
	}
	// A second token for the same account sees the same inbox.
	f.Sim.AddAccount(acctA, "token-a2")
	if got := ids(f.threads("token-a2", "")); len(got) != 1 {
		t.Fatalf("second token lists %v", got)
	}
}

// TestRateLimit checks the burst of Config.RequestsPerSecond and
// Config.RetryAfter; the conformance suite checks the rest of the limit.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []bool{false, true} {
		f := newFixture(t, Config{RequestsPerSecond: 2, RetryAfter: retryAfter})
		for i := range 2 {
			if r := f.Get(tokenA, "/api/partner/threads"); r.Status != http.StatusOK {
				t.Fatalf("request %d: %d", i, r.Status)
			}
		}
		r := f.Get(tokenA, "/api/partner/threads")
		if e := apiError(t, r); r.Status != http.StatusTooManyRequests || e.Status != 429 {
			t.Fatalf("third request: %d %s", r.Status, r.Body)
		}
		if got, want := r.Header.Get("Retry-After"), map[bool]string{false: "", true: "1"}[retryAfter]; got != want {
			t.Fatalf("Retry-After %q, want %q", got, want)
		}
		// Half a second at 2/s buys one request.
		f.Clock.Advance(500 * time.Millisecond)
		simtest.WantStatus(t, f.Get(tokenA, "/api/partner/threads"), http.StatusOK)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th := f.Sim.AddThread(acctA, NewThread{})
	m := f.Sim.AddMessage(acctA, th, Interlocutor, "hi", time.Time{})
	for _, path := range []string{
		"/api/partner/threads/999", "/api/partner/threads/x/messages", "/api/partner/threads/" + th + "/messages/1",
		"/api/partner/nothing", "/api/open/threads",
	} {
		if r := f.Get(tokenA, path); r.Status != http.StatusNotFound || apiError(t, r).Status != 404 {
			t.Errorf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	r := f.Get(tokenA, "/api/partner/threads/"+th+"/messages/"+m)
	if one := simtest.Decode[struct{ Data wireMessage }](t, r).Data; strconv.FormatInt(one.ID, 10) != m {
		t.Fatalf("one message: %d %s", r.Status, r.Body)
	}
}

// Readers page and writers write and mark threads read at once; the race
// detector watches, every page is a well-formed window, and unread counts
// stay right.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Now: time.Now})
	f.Sim.Seed(acctA, 200, 2, time.Time{})
	var wg sync.WaitGroup
	wg.Go(func() {
		truth := f.Sim.Threads(acctA)
		for i := range 1000 {
			th := truth[i%len(truth)].ID
			f.Sim.AddMessage(acctA, th, SenderType(1+i%2), "x", time.Time{})
			if i%7 == 0 {
				f.Sim.MarkRead(acctA, th)
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for off := 0; off < 200; off += 20 {
				var page struct{ Data []wireThread }
				if err := f.JSON(tokenA, "/api/partner/threads?limit=20&offset="+strconv.Itoa(off), &page); err != nil || len(page.Data) != 20 {
					t.Errorf("page at %d: %d threads, %v", off, len(page.Data), err)
					return
				}
				var msgs struct{ Data []wireMessage }
				if err := f.JSON(tokenA, "/api/partner/threads/"+strconv.FormatInt(page.Data[0].ID, 10)+"/messages", &msgs); err != nil || len(msgs.Data) < 2 {
					t.Errorf("messages: %d, %v", len(msgs.Data), err)
				}
				_ = f.Sim.Threads(acctA)
			}
		})
	}
	wg.Wait()
	truth := f.Sim.Threads(acctA)
	if len(truth) != 200 {
		t.Fatalf("%d threads", len(truth))
	}
	for _, th := range truth {
		unread := 0
		for _, m := range th.Messages {
			if m.From == Interlocutor && !m.IsRead {
				unread++
			}
		}
		if unread != th.UnreadCount {
			t.Fatalf("thread %s: unread_count %d, %d unread messages", th.ID, th.UnreadCount, unread)
		}
		if !slices.IsSortedFunc(th.Messages, func(a, b MessageInfo) int { return a.At.Compare(b.At) }) {
			t.Fatalf("thread %s: messages out of time order", th.ID)
		}
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	before := f.Sim.AddThread(acctA, NewThread{})
	start := time.Now()
	f.Sim.Seed(acctA, 10000, 4, time.Time{})
	took := time.Since(start)
	t.Logf("seeding 10,000 threads × 4 messages took %s", took)
	// Well under a second without the race detector (see BenchmarkSeed);
	// the bound leaves room for it.
	if took > 5*time.Second {
		t.Fatalf("seeding took %s", took)
	}
	truth := f.Sim.Threads(acctA)
	if len(truth) != 10001 || truth[len(truth)-1].ID != before {
		t.Fatalf("%d threads, last %s; want 10001 with the older thread last", len(truth), truth[len(truth)-1].ID)
	}
	now := f.Clock.Now()
	var last time.Time
	for i := len(truth) - 2; i >= 0; i-- { // seeding order
		th := truth[i]
		k := len(truth) - 2 - i // 0 for the first seeded
		if len(th.Messages) != 4 {
			t.Fatalf("thread %s has %d messages", th.ID, len(th.Messages))
		}
		unread := 0
		for j, m := range th.Messages {
			want := Interlocutor
			if j%2 == 1 && !(j == 3 && k%3 == 2) {
				want = Owner
			}
			if m.From != want {
				t.Fatalf("thread %d message %d from %v, want %v", k, j, m.From, want)
			}
			if m.At.Before(last) || m.At.After(now) {
				t.Fatalf("thread %d message %d at %v, after %v, now %v", k, j, m.At, last, now)
			}
			last = m.At
			if m.From == Interlocutor && !m.IsRead {
				unread++
			}
		}
		if unread != th.UnreadCount || (k%3 == 2) != (unread > 0) {
			t.Fatalf("thread %d: unread %d, counted %d", k, th.UnreadCount, unread)
		}
	}
	// The list pages the seeded threads like any other.
	page := f.threads(tokenA, "?offset=9999&limit=5")
	if len(page) != 2 || strconv.FormatInt(page[1].ID, 10) != before || page[0].TotalCount != 4 {
		t.Fatalf("last page %+v", page)
	}
	// Later messages come after the seeded history.
	th := truth[5000].ID
	m := f.Sim.AddMessage(acctA, th, Interlocutor, "news?", time.Time{})
	if top := f.Sim.Threads(acctA)[0]; top.ID != th || top.Messages[4].ID != m || top.Messages[4].At.Before(last) {
		t.Fatalf("top thread %+v", top)
	}
}

func TestSeedStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.Seed(acctA, 3, 2, t0)
	truth := f.Sim.Threads(acctA)
	if got := truth[2].Messages[0].At; !got.Equal(t0) {
		t.Fatalf("first seeded message at %v, want %v", got, t0)
	}
	if got := truth[0].Messages[1].At; !got.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("last seeded message at %v", got)
	}
	// Seeding more than the time since start allows squeezes the steps.
	f.Sim.Seed(acctB, 100, 100, f.Clock.Now().Add(-time.Minute))
	for _, th := range f.Sim.Threads(acctB) {
		for _, m := range th.Messages {
			if m.At.After(f.Clock.Now()) {
				t.Fatalf("message at %v, after now", m.At)
			}
		}
	}
	f.Sim.Seed(acctA, 0, 5, time.Time{})
	f.Sim.Seed(acctA, 2, 0, time.Time{})
	if got := len(f.Sim.Threads(acctA)); got != 5 {
		t.Fatalf("%d threads", got)
	}
}

// BenchmarkListPage serves list pages deep in a large inbox: the cost
// does not grow with the offset.
func BenchmarkListPage(b *testing.B) {
	sim := New(Config{})
	sim.AddAccount(acctA, tokenA)
	sim.Seed(acctA, 50000, 2, time.Time{})
	a := sim.accounts.Must(acctA)
	b.ResetTimer()
	for i := range b.N {
		a.RLock()
		n := a.order.Len()
		off := (i * 7919) % n
		out := make([]wireThread, 0, 100)
		for j := n - 1 - off; j >= 0 && len(out) < 100; j-- {
			out = append(out, a.order.At(j).wire(true))
		}
		a.RUnlock()
	}
}
