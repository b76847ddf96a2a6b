package miraklsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

type jParticipant struct {
	DisplayName string `json:"display_name"`
	ID          string `json:"id"`
	Type        string `json:"type"`
}

type jSender struct {
	DisplayName         string        `json:"display_name"`
	Type                string        `json:"type"`
	OrganizationDetails *jParticipant `json:"organization_details"`
}

type jMessage struct {
	ID          string         `json:"id"`
	DateCreated time.Time      `json:"date_created"`
	Body        string         `json:"body"`
	From        jSender        `json:"from"`
	To          []jParticipant `json:"to"`
	Attachments []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"attachments"`
}

type jThread struct {
	ID          string    `json:"id"`
	DateCreated time.Time `json:"date_created"`
	DateUpdated time.Time `json:"date_updated"`
	Topic       struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"topic"`
	Entities []struct {
		ID    string `json:"id"`
		Label string `json:"label"`
		Type  string `json:"type"`
	} `json:"entities"`
	AuthorizedParticipants []jParticipant `json:"authorized_participants"`
	CurrentParticipants    []jParticipant `json:"current_participants"`
	Metadata               struct {
		LastMessageDate      *time.Time `json:"last_message_date"`
		LastSender           *jSender   `json:"last_sender"`
		ShopReplyNeededSince *time.Time `json:"shop_reply_needed_since"`
		TotalCount           int        `json:"total_count"`
	} `json:"metadata"`
	Messages []jMessage `json:"messages"`
}

type jPage struct {
	Data []jThread `json:"data"`
	Next *string   `json:"next_page_token"`
	Prev *string   `json:"previous_page_token"`
}

// The accounts A and B of target and the fixtures: a key and its
// credential.
const (
	shopA, keyA = "2001", "key-a-0123456789"
	shopB, keyB = "2002", "key-b-0123456789"
)

// target is the Mirakl simulator for the conformance suite: the raw key
// in Authorization, M11 walked by page_token, M10 as the messages.
var target = simtest.Target[*Server, Config]{
	Lists:        []simtest.List{{Name: "M11", Page: m11, Keeps: true}},
	Auth:         simtest.Header("Authorization", ""),
	New:          New,
	Now:          func(c *Config) *func() time.Time { return &c.Now },
	Limited:      Config{RequestsPerSecond: 1, Burst: 1},
	Kit:          func(s *Server) *sim.Kit { return s.Kit },
	A:            simtest.Account{Key: shopA, Token: keyA},
	B:            simtest.Account{Key: shopB, Token: keyB},
	ListPath:     "/api/inbox/threads",
	Messages:     "M10",
	MessagesPath: func(id string) string { return "/api/inbox/threads/" + id },
	Pending:      simtest.Pending(registry, func(sh *shop) int { return sh.pending.Len() }),
	// TestTrafficStepIsAMarketplace checks the mix.
	Step:   simtest.Step(registry, (*Server).trafficStep),
	Refill: time.Second,
	Empty:  `{"data":[]}`,
	Refusal: func(r simtest.Response, limited bool) error {
		msg, err := miraklError(r.Body, r.Status)
		if want := "injected fault: " + strconv.Itoa(r.Status) + " " + http.StatusText(r.Status); err == nil && !limited && msg != want {
			err = fmt.Errorf("message %q, want %q", msg, want)
		}
		return err
	},
}

// registry is the simulator's registry of shops, for the suite.
func registry(s *Server) *sim.Accounts[*shop] { return &s.shops }

// m11 is a page of M11: the first of limit threads, or the one the token
// names.
func m11(c simtest.Client, key, token string, limit int) ([]string, string, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if token != "" {
		q = url.Values{"page_token": {token}}
	}
	var p jPage
	err := c.JSON(key, "/api/inbox/threads?"+q.Encode(), &p)
	if p.Next == nil {
		return ids([]jPage{p}), "", err
	}
	return ids([]jPage{p}), *p.Next, err
}

// miraklError decodes Mirakl's {"status","message"} error body.
func miraklError(body []byte, status int) (message string, err error) {
	type errorBody struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	e, err := simtest.ErrorBody(body, fmt.Sprintf(`{"status":%d,"message":...}`, status), func(e errorBody) bool { return e.Status == status && e.Message != "" })
	if err != nil {
		return "", err
	}
	return e.Message, nil
}

func ids(pages []jPage) []string {
	var out []string
	for _, p := range pages {
		for _, th := range p.Data {
			out = append(out, th.ID)
		}
	}
	return out
}

// addThreads creates n threads in the shop with one customer message each,
// at t0 + i minutes, and returns their ids in creation order.
func addThreads(sim *Server, shopID string, n int) []string {
	out := make([]string, n)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		out[i] = sim.AddThread(shopID, NewThread{At: at})
		sim.AddMessage(shopID, out[i], Customer, "hello", at)
	}
	return out
}

// wantErrorBody checks Mirakl's error body.
func wantErrorBody(t testing.TB, body []byte, status int) {
	t.Helper()
	if _, err := miraklError(body, status); err != nil {
		t.Fatal(err)
	}
}

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// fixture serves a simulator with shops A and B (see target) on a clock
// standing at t0 + 1h, so explicit times around t0 are in the past.
type fixture struct{ *simtest.Fixture[*Server] }

func newFixture(t *testing.T, cfg Config) *fixture {
	return &fixture{simtest.Serve(t, target, t0.Add(time.Hour), cfg)}
}

// refused GETs path with the key and checks Mirakl's refusal: the status
// and its error body.
func (f *fixture) refused(key, path string, status int) simtest.Response {
	f.T.Helper()
	r := f.Get(key, path)
	simtest.WantStatus(f.T, r, status)
	wantErrorBody(f.T, r.Body, status)
	return r
}

// list fetches one M11 page.
func (f *fixture) list(key string, q url.Values) jPage {
	f.T.Helper()
	var p jPage
	f.GetJSON(key, "/api/inbox/threads?"+q.Encode(), &p)
	if p.Next != nil && *p.Next == "" {
		f.T.Fatal("next_page_token is present but empty; it must be omitted on the last page")
	}
	return p
}

// walk follows next_page_token from the first query to the last page and
// returns the pages. between, when set, runs after each page.
func (f *fixture) walk(key string, q url.Values, between func(page int, p jPage)) []jPage {
	f.T.Helper()
	var pages []jPage
	p := f.list(key, q)
	for {
		pages = append(pages, p)
		if between != nil {
			between(len(pages), p)
		}
		if p.Next == nil {
			return pages
		}
		if len(pages) > 10000 {
			f.T.Fatal("walk does not end")
		}
		p = f.list(key, url.Values{"page_token": {*p.Next}})
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	simtest.Run(t, target)
}

func BenchmarkSimulator(b *testing.B) { simtest.Benchmark(b, target) }
