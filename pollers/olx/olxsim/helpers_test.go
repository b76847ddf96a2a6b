package olxsim

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// The accounts A and B of target and the fixtures: a key and its
// credential.
const (
	acctA, tokenA = "seller-a", "token-a-0123456789"
	acctB, tokenB = "seller-b", "token-b-0123456789"
)

// target is the OLX simulator for the conformance suite: the Version
// header on every request, threads newest first by offset, and OLX's
// error envelope.
var target = simtest.Target[*Server, Config]{
	Lists: []simtest.List{{Name: "threads", Page: threadsAt, Reverse: true}},
	Auth: func(r *http.Request, token string) {
		if _, set := r.Header["Version"]; !set {
			r.Header.Set("Version", "2.0")
		}
		simtest.Bearer(r, token)
	},
	New:          New,
	Now:          func(c *Config) *func() time.Time { return &c.Now },
	Limited:      Config{RequestsPerSecond: 1, Burst: 1, RetryAfter: true},
	Kit:          func(s *Server) *sim.Kit { return s.Kit },
	A:            simtest.Account{Key: acctA, Token: tokenA},
	B:            simtest.Account{Key: acctB, Token: tokenB},
	ListPath:     "/api/partner/threads",
	Messages:     EndpointMessages,
	MessagesPath: func(id string) string { return "/api/partner/threads/" + id + "/messages" },
	Pending:      simtest.Pending(registry, func(a *account) int { return a.pending.Len() }),
	Step:         simtest.Step(registry, (*Server).trafficStep),
	Mix:          map[string]int{actNewThread: 300, actInterlocutor: 700, actOwnerAnswer: 400},
	Refill:       time.Second,
	Empty:        `{"data":[]}`,
	Refusal: func(r simtest.Response, limited bool) error {
		want := "injected fault: " + strconv.Itoa(r.Status)
		if limited {
			want = "request limit exceeded"
		}
		if e, err := olxError(r.Body); err != nil || e.Status != r.Status || e.Title != http.StatusText(r.Status) || e.Detail != want {
			return fmt.Errorf("error %+v (%v), want status %d, title %q, detail %q", e, err, r.Status, http.StatusText(r.Status), want)
		}
		return nil
	},
}

// registry is the simulator's registry of accounts, for the suite.
func registry(s *Server) *sim.Accounts[*account] { return &s.accounts }

// threadsAt is the page of up to limit threads from the offset.
func threadsAt(c simtest.Client, token, offset string, limit int) ([]string, string, error) {
	from, _ := strconv.Atoi(offset)
	var p struct{ Data []wireThread }
	err := c.JSON(token, "/api/partner/threads?offset="+strconv.Itoa(from)+"&limit="+strconv.Itoa(limit), &p)
	if len(p.Data) < limit {
		return strIDs(p.Data), "", err
	}
	return strIDs(p.Data), strconv.Itoa(from + limit), err
}

// olxError decodes OLX's error envelope.
func olxError(body []byte) (errorDetail, error) {
	e, err := simtest.ErrorBody(body, "OLX's error envelope", func(e errorBody) bool { return e.Error.Status != 0 })
	return e.Error, err
}

func ids(ts []wireThread) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// apiError decodes OLX's error envelope, or fails the test.
var apiError = simtest.Assert(olxError)

// t0 is the fixtures' epoch: all explicit times are offsets from it.
var t0 = time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)

// fixture serves a simulator with accounts A and B (see target) on a
// clock standing at t0 + 1h, so explicit times around t0 are in the past.
type fixture struct{ *simtest.Fixture[*Server] }

func newFixture(t *testing.T, cfg Config) *fixture {
	return &fixture{simtest.Serve(t, target, t0.Add(time.Hour), cfg)}
}

// data GETs path with the token and returns the items of OLX's data
// envelope.
func data[T any](f *fixture, token, path string) []T {
	f.T.Helper()
	r := f.Get(token, path)
	env := simtest.Decode[struct{ Data []T }](f.T, r)
	if env.Data == nil {
		f.T.Fatalf("GET %s: no data array: %s", path, r.Body)
	}
	return env.Data
}

// threads lists a page of GET /threads for the token.
func (f *fixture) threads(token, query string) []wireThread {
	f.T.Helper()
	return data[wireThread](f, token, "/api/partner/threads"+query)
}

func (f *fixture) messages(token, threadID, query string) []wireMessage {
	f.T.Helper()
	return data[wireMessage](f, token, "/api/partner/threads/"+threadID+"/messages"+query)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	simtest.Run(t, target)
}

func BenchmarkSimulator(b *testing.B) { simtest.Benchmark(b, target) }
