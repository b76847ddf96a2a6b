package selfcommunitysim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// The client-side view of the wire, decoded loosely.
type jsonUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// jsonEntry is what a snippet (an inbox row, its thread's last message)
// and a message share: an id, who wrote to whom, and when.
type jsonEntry struct {
	ID        int64     `json:"id"`
	Sender    *jsonUser `json:"sender"`
	Receiver  *jsonUser `json:"receiver"`
	CreatedAt string    `json:"created_at"`
}

type jsonSnippet struct {
	jsonEntry
	Headline      string `json:"headline"`
	LastMessageAt string `json:"last_message_at"`
	ThreadStatus  string `json:"thread_status"`
}

type jsonMessage struct {
	jsonEntry
	ThreadID int64  `json:"thread_id"`
	Message  string `json:"message"`
	Status   string `json:"status"`
}

type jsonPage[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

// The accounts A and B of target and the fixtures: a key and its
// credential.
const (
	userA, tokenA = "alice_owner", "tok-a-0123456789abcdef"
	userB, tokenB = "bob_owner", "tok-b-0123456789abcdef"
)

// target is the SelfCommunity simulator for the conformance suite:
// snippets newest first by DRF's next links, a thread's messages by
// ?thread=, and DRF's {"detail"} bodies.
var target = simtest.Target[*Server, Config]{
	Lists:        []simtest.List{{Name: "snippets", Page: snippets, Reverse: true}},
	Auth:         simtest.Bearer,
	New:          New,
	Now:          func(c *Config) *func() time.Time { return &c.Now },
	Limited:      Config{RequestsPerSecond: 1, Burst: 1},
	Kit:          func(s *Server) *sim.Kit { return s.Kit },
	A:            simtest.Account{Key: userA, Token: tokenA},
	B:            simtest.Account{Key: userB, Token: tokenB},
	ListPath:     "/api/v2/pm/",
	Messages:     EndpointThread,
	MessagesPath: func(id string) string { return "/api/v2/pm/?thread=" + id },
	// Every inbox is under the server's lock.
	Pending: func(s *Server, username string) int {
		s.mu.RLock()
		defer s.mu.RUnlock()
		return s.accounts.Must(username).pending.Len()
	},
	Step:   simtest.Step(registry, (*Server).trafficStep),
	Mix:    map[string]int{actNewThread: 300, actMember: 700, actOwnerAnswer: 500},
	Refill: time.Second,
	Empty:  `{"count":0,"next":null,"previous":null,"results":[]}`,
	// A 429 says the wait of its Retry-After, the limiter's or a fault's,
	// as DRF's Throttled does.
	Refusal: func(r simtest.Response, _ bool) error {
		want := "Injected fault: " + strconv.Itoa(r.Status) + " " + http.StatusText(r.Status) + "."
		if secs := r.Header.Get("Retry-After"); r.Status == http.StatusTooManyRequests && secs == "1" {
			want = "Request was throttled. Expected available in 1 second."
		} else if r.Status == http.StatusTooManyRequests {
			want = "Request was throttled. Expected available in " + secs + " seconds."
		}
		if d, err := drfDetail(r.Body); err != nil || d != want {
			return fmt.Errorf("detail %q (%v), want %q", d, err, want)
		}
		return nil
	},
}

// registry is the simulator's registry of accounts, for the suite.
func registry(s *Server) *sim.Accounts[*account] { return &s.accounts }

// snippets is the page of up to limit snippets at the next link.
func snippets(c simtest.Client, token, next string, limit int) ([]string, string, error) {
	if next == "" {
		next = "/api/v2/pm/?limit=" + strconv.Itoa(limit)
	}
	var p jsonPage[jsonSnippet]
	err := c.JSON(token, next, &p)
	if err == nil && p.Results == nil {
		err = errors.New("no results array")
	}
	ids := simtest.IDs(p.Results, func(s jsonSnippet) string { return strconv.FormatInt(s.ID, 10) })
	if p.Next == nil {
		return ids, "", err
	}
	return ids, *p.Next, err
}

// drfDetail decodes DRF's {"detail": ...} error body.
func drfDetail(body []byte) (string, error) {
	type errorBody struct {
		Detail string `json:"detail"`
	}
	d, err := simtest.ErrorBody(body, `{"detail": ...}`, func(d errorBody) bool { return d.Detail != "" })
	if err != nil {
		return "", err
	}
	return d.Detail, nil
}

func decodePage[T any](t testing.TB, r simtest.Response) jsonPage[T] {
	t.Helper()
	p := simtest.Decode[jsonPage[T]](t, r)
	if p.Results == nil {
		t.Fatalf("no results array in %s", r.Body)
	}
	return p
}

func msgIDs(ms []jsonMessage) []string {
	return simtest.IDs(ms, func(m jsonMessage) string { return strconv.FormatInt(m.ID, 10) })
}

// detail decodes DRF's {"detail": ...} error body, or fails the test.
var detail = simtest.Assert(drfDetail)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 5, 17, 20, 2, 100_000, time.UTC)

// fixture serves a simulator with accounts A and B (see target), of user
// ids idA and idB, on a clock standing at t0 + 1h, so explicit times
// around t0 are in the past.
type fixture struct {
	*simtest.Fixture[*Server]
	idA, idB string
}

func newFixture(t *testing.T, cfg Config) *fixture {
	f := &fixture{Fixture: simtest.Serve(t, target, t0.Add(time.Hour), cfg)}
	// Adding an account again returns its user id.
	f.idA, f.idB = f.Sim.AddAccount(userA, tokenA), f.Sim.AddAccount(userB, tokenB)
	return f
}

// walkSnippets follows next links from the first page and returns the ids.
func (f *fixture) walkSnippets(token string, limit int) []string {
	f.T.Helper()
	ids, err := simtest.Walk(f.Client, token, target.Lists[0], limit)
	if err != nil {
		f.T.Fatal(err)
	}
	return ids
}

func (f *fixture) threadQuery(token string, q url.Values) jsonPage[jsonMessage] {
	f.T.Helper()
	return decodePage[jsonMessage](f.T, f.Get(token, "/api/v2/pm/?"+q.Encode()))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	simtest.Run(t, target)
}

func BenchmarkSimulator(b *testing.B) { simtest.Benchmark(b, target) }
