package hubspotsim

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

type jThread struct {
	ID                             string
	InboxID                        string
	Status                         string
	Archived                       bool
	AssociatedContactID            string
	AssignedTo                     *string
	CreatedAt                      string
	ClosedAt                       *string
	LatestMessageTimestamp         *string
	LatestMessageSentTimestamp     *string
	LatestMessageReceivedTimestamp *string
	ThreadAssociations             *struct{ AssociatedTicketID string }
}

type jMessage struct {
	Type, ID, CreatedAt, Direction, Text, TruncationStatus string
	ConversationsThreadID                                  string
	Senders                                                []struct{ ActorID, Name string }
}

type jPage[T any] struct {
	Results []T
	Paging  *struct {
		Next struct{ After, Link string }
	}
}

func (p *jPage[T]) after() string {
	if p.Paging == nil {
		return ""
	}
	return p.Paging.Next.After
}

// The accounts A and B of target and the fixtures: a key and its
// credential.
const (
	portalA, tokA = "24000001", "pat-na1-aaaaaaaa-0000-0000-0000-000000000001"
	portalB, tokB = "24000002", "pat-na1-bbbbbbbb-0000-0000-0000-000000000002"

	threadsURL = "/conversations/v3/conversations/threads"
)

// target is the HubSpot simulator for the conformance suite: threads
// walked by id through paging.next.link and by latest message through
// after, their messages, and HubSpot's two error bodies.
var target = simtest.Target[*Server, Config]{
	Lists: []simtest.List{
		{Name: "by id", Page: threadPages(""), Keeps: true, Once: true},
		{Name: "by latest message", Page: threadPages("sort=latestMessageTimestamp&latestMessageTimestampAfter=2000-01-01T00:00:00Z"), Keeps: true},
	},
	Auth: simtest.Bearer,
	New:  New,
	Now:  func(c *Config) *func() time.Time { return &c.Now },
	// The 10-second window admits one request.
	Limited:      Config{RequestsPerSecond: 0.1, RetryAfter: true},
	Kit:          func(s *Server) *sim.Kit { return s.Kit },
	A:            simtest.Account{Key: portalA, Token: tokA},
	B:            simtest.Account{Key: portalB, Token: tokB},
	ListPath:     threadsURL,
	Messages:     EndpointMessages,
	MessagesPath: func(id string) string { return threadsURL + "/" + id + "/messages" },
	Pending:      simtest.Pending(registry, func(a *account) int { return a.pending.Len() }),
	Step:         simtest.Step(registry, (*Server).trafficStep),
	Mix:          map[string]int{actNewThread: 300, actVisitor: 700, actAnswer: 400, actClose: 20},
	Refill:       10 * time.Second,
	Empty:        `{"results":[]}`,
	Refusal:      refusal,
}

// registry is the simulator's registry of accounts, for the suite.
func registry(s *Server) *sim.Accounts[*account] { return &s.accounts }

// threadPages walks the thread list with query: without it, by the
// paging.next.link each page gives, and with it by after.
func threadPages(query string) func(c simtest.Client, tok, cursor string, limit int) ([]string, string, error) {
	return func(c simtest.Client, tok, cursor string, limit int) ([]string, string, error) {
		path := threadsURL + "?limit=" + strconv.Itoa(limit)
		switch {
		case query != "" && cursor != "":
			path += "&" + query + "&after=" + url.QueryEscape(cursor)
		case query != "":
			path += "&" + query
		case cursor != "":
			path = cursor
		}
		var p jPage[jThread]
		err := c.JSON(tok, path, &p)
		next := p.after()
		if query == "" && p.Paging != nil {
			next = p.Paging.Next.Link
		}
		return simtest.IDs(p.Results, func(th jThread) string { return th.ID }), next, err
	}
}

// refusal checks HubSpot's answers to faults and its burst window's 429:
// for 429 the rate-limit body of the burst policy, else the error body of
// an internal error; both repeat the correlation id of the header.
func refusal(r simtest.Response, limited bool) error {
	corr := r.Header.Get("X-HubSpot-Correlation-Id")
	if r.Status != http.StatusTooManyRequests {
		e, err := hubspotError(r.Body, catInternal)
		if want := "injected fault: " + strconv.Itoa(r.Status) + " " + http.StatusText(r.Status); err == nil && (e.Message != want || e.CorrelationID != corr) {
			err = fmt.Errorf("message %q, correlationId %q; want %q and the header's %q", e.Message, e.CorrelationID, want, corr)
		}
		return err
	}
	if _, err := rateLimited(r, PolicyBurst, "You have reached your ten_secondly_rolling limit."); err != nil {
		return err
	}
	if limited && r.Header.Get("X-HubSpot-RateLimit-Max") != "1" {
		return errors.New("X-HubSpot-RateLimit-Max is not the window's 1")
	}
	return nil
}

// rateLimited decodes HubSpot's rate-limit body (a 429's) of the policy,
// saying message, with the correlation id of the header.
func rateLimited(r simtest.Response, policy, message string) (rateLimitBody, error) {
	corr := r.Header.Get("X-HubSpot-Correlation-Id")
	return simtest.ErrorBody(r.Body, fmt.Sprintf("the %s policy's %q with the header's correlation id %q", policy, message, corr), func(rl rateLimitBody) bool {
		return rl.Status == "error" && rl.ErrorType == "RATE_LIMIT" && rl.PolicyName == policy && rl.Message == message && rl.CorrelationID != "" && rl.CorrelationID == corr
	})
}

func listPage[T any](f *fixture, tok, path string) jPage[T] {
	f.T.Helper()
	var p jPage[T]
	f.GetJSON(tok, path, &p)
	return p
}

// walkAfter follows after from a cursor ("" for the first page) through
// the list at path with query, and returns the ids of what it lists.
func walkAfter[T any](f *fixture, tok, path, query, after string, id func(T) string) []string {
	f.T.Helper()
	var ids []string
	for range 1000 {
		q := query
		if after != "" {
			q += "&after=" + url.QueryEscape(after)
		}
		p := listPage[T](f, tok, path+"?"+q)
		for _, x := range p.Results {
			ids = append(ids, id(x))
		}
		if after = p.after(); after == "" {
			return ids
		}
	}
	f.T.Fatal("walk does not end")
	return nil
}

// hubspotError decodes HubSpot's error body of category.
func hubspotError(body []byte, category string) (errorBody, error) {
	e, err := simtest.ErrorBody(body, "status error, a message, a correlationId and category "+category, func(e errorBody) bool {
		return e.Status == "error" && e.Message != "" && e.CorrelationID != "" && e.Category == category
	})
	if err == nil && strings.Contains(string(body), "pat-na1") {
		err = fmt.Errorf("error body echoes a token: %s", body)
	}
	return e, err
}

// wantError checks HubSpot's error body and returns it.
func wantError(t *testing.T, body []byte, category string) errorBody {
	t.Helper()
	e, err := hubspotError(body, category)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func threadIDs(ths []ThreadInfo) []string {
	return simtest.IDs(ths, func(th ThreadInfo) string { return th.ID })
}

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// fixture serves a simulator with accounts A and B (see target) on a
// clock standing at t0 + 1h, so explicit times around t0 are in the past.
type fixture struct{ *simtest.Fixture[*Server] }

func newFixture(t *testing.T, cfg Config) *fixture {
	return &fixture{simtest.Serve(t, target, t0.Add(time.Hour), cfg)}
}

// walk lists every thread with query (which must not have after), in
// order.
func (f *fixture) walk(tok, query string) []string {
	f.T.Helper()
	return walkAfter(f, tok, threadsURL, query, "", func(th jThread) string { return th.ID })
}

func TestConformance(t *testing.T) {
	t.Parallel()
	simtest.Run(t, target)
}

func BenchmarkSimulator(b *testing.B) { simtest.Benchmark(b, target) }
