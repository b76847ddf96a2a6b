package selfcommunitysim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

func TestAuthRefusesMissingMalformedAndUnknownTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for _, auth := range []string{"", tokenA, "Token " + tokenA, "Bearer ", "Bearer nope"} {
		r := f.Get("", "/api/v2/pm/", "Authorization: "+auth)
		if r.Status != http.StatusUnauthorized || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("Authorization %q: %d %q, want 401 with a Bearer challenge", auth, r.Status, r.Header.Get("WWW-Authenticate"))
		}
	}
	r := f.Get("wrong-token", "/api/v2/pm/")
	if d := detail(t, r); d != "Authentication credentials were not provided." || strings.Contains(string(r.Body), "wrong-token") {
		t.Fatalf("401 body %s", r.Body)
	}
	if st := f.Sim.Stats(); st.Unauthorized != 6 || st.Snippets != 0 {
		t.Fatalf("stats %+v: refused requests must count as unauthorized only", st)
	}
	// A good token, in any case of the scheme.
	simtest.WantStatus(t, f.Get("", "/api/v2/pm/", "Authorization: bearer "+tokenA), http.StatusOK)
}

func TestAddAccountTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if id := f.Sim.AddAccount(userA, "second-token"); id != f.idA {
		t.Fatalf("a second token made user %s, want %s", id, f.idA)
	}
	if r := f.Get("second-token", "/api/v2/pm/"); r.Status != http.StatusOK {
		t.Fatalf("second token: %d", r.Status)
	}
}

// TestRateLimitAnswers429LikeDRF checks DRF's wording of a wait of
// seconds; the conformance suite checks the rest of the limit.
func TestRateLimitAnswers429LikeDRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{RequestsPerSecond: 0.5, Burst: 2})
	for i := range 2 {
		if r := f.Get(tokenA, "/api/v2/pm/"); r.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, r.Status)
		}
	}
	r := f.Get(tokenA, "/api/v2/pm/")
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("over the limit: %d, Retry-After %q", r.Status, r.Header.Get("Retry-After"))
	}
	if d := detail(t, r); d != "Request was throttled. Expected available in 2 seconds." {
		t.Fatalf("429 detail %q", d)
	}
	// At 0.5/s the wait is the 2 seconds it says.
	f.Clock.Advance(2 * time.Second)
	simtest.WantStatus(t, f.Get(tokenA, "/api/v2/pm/"), http.StatusOK)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if r := f.Get(tokenA, "/api/v2/pm"); r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "/api/v2/pm/" {
		t.Fatalf("no trailing slash: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := f.Get(tokenA, "/api/v2/pm?limit=2"); r.Header.Get("Location") != "/api/v2/pm/?limit=2" {
		t.Fatalf("redirect drops the query: %q", r.Header.Get("Location"))
	}
	for _, p := range []string{"/", "/api/v2/pm/x/", "/api/v2/user/me/", "/api/v2/pm/12/34/"} {
		if r := f.Get(tokenA, p); r.Status != http.StatusNotFound || detail(t, r) != "Not found." {
			t.Fatalf("%s: %d %s", p, r.Status, r.Body)
		}
	}
	if r := f.Do(http.MethodPut, tokenA, "/api/v2/pm/", nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") == "" {
		t.Fatalf("PUT: %d", r.Status)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	f.Sim.AddThread(userA, NewThread{At: t0}) // existing history stays
	f.Sim.Seed(userA, 300, 4)
	f.Sim.Seed(userB, 30, 3)

	for _, tc := range []struct {
		acct    string
		threads int
		mpt     int
		pending int
	}{
		{userB, 30, 3, 30},   // O A O: every thread waits for the account
		{userA, 301, 4, 101}, // O A O A, except every third: O A O O; plus the first thread
	} {
		threads := f.Sim.Threads(tc.acct)
		if len(threads) != tc.threads {
			t.Fatalf("%s: %d threads", tc.acct, len(threads))
		}
		pending := 0
		for i, th := range threads {
			if i == 0 && tc.acct == userA {
				pending++
				continue
			}
			if len(th.Messages) != tc.mpt || th.Messages[0].From != Other || th.Messages[1].From != Owner {
				t.Fatalf("thread %d: %+v", i, th.Messages)
			}
			if !th.CreatedAt.Equal(th.Messages[0].At) || !th.LastMessageAt.Equal(th.Messages[tc.mpt-1].At) || !th.LastMessageAt.Before(f.Clock.Now()) {
				t.Fatalf("thread %d: times %v..%v not behind the clock", i, th.CreatedAt, th.LastMessageAt)
			}
			if d := th.Messages[1].At.Sub(th.Messages[0].At); d != time.Second {
				t.Fatalf("thread %d: messages %v apart", i, d)
			}
			if th.Messages[tc.mpt-1].From == Other {
				pending++
			}
		}
		if pending != tc.pending {
			t.Fatalf("%s: %d threads await a reply, want %d", tc.acct, pending, tc.pending)
		}
	}
	// The inbox is sorted once: newest first, and a new message still
	// moves a thread to the front.
	got := f.walkSnippets(tokenA, 100)
	truth := f.Sim.Threads(userA)
	if len(got) != 301 || got[0] != truth[300].ID || got[300] != truth[0].ID {
		t.Fatalf("walk %v…%v, want newest seeded thread first and the oldest last", got[0], got[len(got)-1])
	}
	f.Sim.AddMessage(userA, truth[5].ID, Other, "x", time.Time{})
	if got := decodePage[jsonSnippet](t, f.Get(tokenA, "/api/v2/pm/?limit=1")).Results[0].ID; strconv.FormatInt(got, 10) != truth[5].ID {
		t.Fatalf("after a new message the first thread is %d, want %s", got, truth[5].ID)
	}
}
