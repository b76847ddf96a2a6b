package pollerstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
)

// pageSize is small so that every scenario walks several pages.
const pageSize = 4

// attempts caps the attempts of one request in the suite's engines.
const attempts = 3

// Run runs every scenario of the suite against the harness's provider.
func Run(t *testing.T, h Harness) {
	scenarios := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"FullInitialSync", testFullInitialSync},
		{"FromNow", testFromNow},
		{"InboundThenReply", testInboundThenReply},
		{"AnswerAndAskAgain", testAnswerAndAskAgain},
		{"ClosedThread", testClosedThread},
		{"LostCommit", testLostCommit},
		{"Deadlines", testDeadlines},
		{"DeadlinesAfterDowntime", testDeadlinesAfterDowntime},
		{"UnconfirmedBreach", testUnconfirmedBreach},
		{"NewThreadAndChangeFarDown", testNewThreadAndChangeFarDown},
		{"ListMovesDuringWalk", testListMovesDuringWalk},
		{"RestartEmitsNothing", testRestartEmitsNothing},
		{"CrashBeforeCommit", testCrashBeforeCommit},
		{"ResumeMidWalk", testResumeMidWalk},
		{"RefusedTokenRestartsTheWalk", testRefusedTokenRestartsTheWalk},
		{"TokenRefusedMidWalk", testTokenRefusedMidWalk},
		{"Faults", testFaults},
		{"WrongToken", testWrongToken},
		{"RunRetriesAndIsolates", testRunRetriesAndIsolates},
		{"IdleWalkCost", testIdleWalkCost},
		{"UnchangedPagesSkipped", testUnchangedPagesSkipped},
		{"SustainReachesEveryEndpoint", testSustainReachesEveryEndpoint},
		{"Sustained", testSustained},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			s.fn(t, h)
		})
	}
}

// fixture is one scenario's world and its accounts.
type fixture struct {
	*World
	t       *testing.T
	h       Harness
	accts   []pollers.Account
	watches []*Watch
	// sweep makes every walk after the first a sweep, in the engines made
	// from now.
	sweep bool
}

func newFixture(t *testing.T, h Harness, n int) *fixture {
	f := &fixture{World: NewWorld(t), t: t, h: h}
	for i := range n {
		a := h.NewAccount(t, fmt.Sprintf("acct-%d", i+1), pageSize)
		// The suite tests behaviour, not a provider's pacing.
		if _, set := a.Options["requests_per_second"]; !set {
			a.Options = maps.Clone(a.Options)
			if a.Options == nil {
				a.Options = map[string]string{}
			}
			a.Options["requests_per_second"] = "1000"
		}
		f.accts = append(f.accts, a)
	}
	return f
}

// watch watches the provider of the account in the engines made from now.
func (f *fixture) watch(a pollers.Account) *Watch {
	w := NewWatch(a)
	f.watches = append(f.watches, w)
	return w
}

func (f *fixture) config(store pollers.Store) pollers.Config {
	factory := f.h.Factory()
	for _, w := range f.watches {
		factory = w.Factory(factory)
	}
	var sweep time.Duration
	if f.sweep {
		sweep = time.Nanosecond
	}
	return f.Config(pollers.Config{
		Store:         store,
		SweepInterval: sweep,
		Providers:     map[string]pollers.Factory{f.h.Provider(): factory},
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    2 * time.Second,
		HTTPTimeout:   10 * time.Second,
		Retry:         pollers.RetryPolicy{Attempts: attempts, MinWait: 5 * time.Millisecond, MaxWait: 50 * time.Millisecond},
		Logger:        slog.New(slog.NewTextHandler(f.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

// engine builds a fresh engine, as a restarted worker would.
func (f *fixture) engine(store pollers.Store, accts ...pollers.Account) *pollers.Engine {
	f.t.Helper()
	if len(accts) == 0 {
		accts = f.accts
	}
	e, err := pollers.New(f.config(store), accts)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) poll(e *pollers.Engine, a pollers.Account) pollers.Stats {
	f.t.Helper()
	return PollOnce(f.t, e, a)
}

// PollOnce polls the account once with e and fails the test unless the
// poll completes a walk.
func PollOnce(tb testing.TB, e *pollers.Engine, a pollers.Account) pollers.Stats {
	tb.Helper()
	st, err := e.PollOnce(context.Background(), a.Provider, a.ID)
	if err != nil {
		tb.Fatalf("poll %s: %v", a, err)
	}
	if !st.Completed {
		tb.Fatalf("poll %s did not complete its walk: %+v", a, st)
	}
	return st
}

// synced is a fixture of one account of threads (see seed), synced by
// the engine it returns.
func synced(t *testing.T, h Harness, threads int) (*fixture, pollers.Account, *pollers.Engine) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, threads)
	e := f.engine(nil)
	f.poll(e, a)
	return f, a, e
}

// cursor is the account's stored cursor.
func (f *fixture) cursor(a pollers.Account) checkpoint.Cursor {
	f.t.Helper()
	c, err := f.Store.Cursor(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// seed creates n threads with a few messages each, some awaiting a reply.
func (f *fixture) seed(a pollers.Account, n int) {
	for i := range n {
		th := f.h.AddThread(f.t, a, fmt.Sprintf("question %d", i))
		if i%3 != 0 {
			f.h.AddMessage(f.t, a, th, events.Outbound, "answer")
		}
		if i%3 == 2 {
			f.h.AddMessage(f.t, a, th, events.Inbound, "follow-up")
		}
	}
}

// counts tallies events by type and checks each id appears once.
func counts(t testing.TB, got []eventstest.Received) Expected {
	t.Helper()
	var c Expected
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.Envelope.ID] {
			t.Fatalf("event %s (%s) delivered twice", r.Envelope.ID, r.Envelope.Type)
		}
		seen[r.Envelope.ID] = true
		switch r.Envelope.Type {
		case events.ThreadCreated:
			c.Created++
		case events.MessageReceived:
			c.Messages++
		case events.ReplyNeeded:
			c.Replies++
		}
	}
	return c
}

// checkFullSync checks the stream holds exactly what a full sync of the
// truth implies, per thread, in causal order.
func checkFullSync(t *testing.T, truth []Thread, got []eventstest.Received) {
	t.Helper()
	if c, want := counts(t, got), Expect(truth); c != want {
		t.Fatalf("full sync published %+v, want %+v", c, want)
	}
	checkThreads(t, truth, got)
}

// checkThreads checks that the stream holds what the syncs so far of each
// of threads imply: its ThreadCreated first and once, its messages once
// each and in order, each ReplyNeeded right after an inbound message, and
// an announced episode left open exactly when the thread awaits a reply.
func checkThreads(t *testing.T, threads []Thread, got []eventstest.Received) {
	t.Helper()
	byThread := map[string][]eventstest.Received{}
	for _, r := range got {
		byThread[r.Envelope.Subject] = append(byThread[r.Envelope.Subject], r)
	}
	for _, th := range threads {
		evs := byThread[th.ID]
		if len(evs) == 0 || evs[0].Envelope.Type != events.ThreadCreated {
			t.Fatalf("thread %s: first event is not ThreadCreated: %v", th.ID, types(evs))
		}
		var msgIDs []string
		open := 0
		for _, r := range evs[1:] {
			switch r.Envelope.Type {
			case events.ThreadCreated:
				t.Fatalf("thread %s: created twice: %v", th.ID, types(evs))
			case events.MessageReceived:
				d, err := events.DecodeData(r.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				m := d.(*events.MessageReceivedData).Message
				msgIDs = append(msgIDs, m.ID)
				if len(msgIDs) > len(th.Messages) {
					t.Fatalf("thread %s: %d messages published, it has %d", th.ID, len(msgIDs), len(th.Messages))
				}
				if want := th.Messages[len(msgIDs)-1]; m.ID != want.ID || m.Direction != want.Direction {
					t.Fatalf("thread %s: message %d is %s (%s), want %s (%s)", th.ID, len(msgIDs), m.ID, m.Direction, want.ID, want.Direction)
				}
			case events.ReplyNeeded:
				open++
				if len(msgIDs) == 0 || th.Messages[len(msgIDs)-1].Direction != events.Inbound {
					t.Fatalf("thread %s: ReplyNeeded not right after an inbound message: %v", th.ID, types(evs))
				}
			case events.ReplyResolved:
				open--
			}
		}
		if len(msgIDs) != len(th.Messages) {
			t.Fatalf("thread %s: %d messages published, want %d", th.ID, len(msgIDs), len(th.Messages))
		}
		// An episode is known by its thread and when it began: where two
		// began in one second of a provider that keeps whole seconds, the
		// stream cannot tell whether the later one is still open.
		eps := Episodes(th)
		alike := len(eps) > 1 && eps[len(eps)-1].Since.Equal(eps[len(eps)-2].Since)
		if want := Pending(th); open < 0 || open > 1 || !alike && (open == 1) != want {
			t.Fatalf("thread %s: pending=%v but events %v", th.ID, want, types(evs))
		}
	}
}

func types(rs []eventstest.Received) []events.Type {
	out := make([]events.Type, len(rs))
	for i, r := range rs {
		out[i] = r.Envelope.Type
	}
	return out
}

func testFullInitialSync(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 3*pageSize+1)
	st := f.poll(f.engine(nil), a)
	if st.Pages < 4 {
		t.Fatalf("walked %d pages, want at least 4 for %d threads by %d", st.Pages, 3*pageSize+1, pageSize)
	}
	checkFullSync(t, h.Truth(t, a), f.JS.ReadAll(t))
}

func testFromNow(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	a.InitialSync = pollers.SyncFromNow
	f.seed(a, 2*pageSize+1)
	e := f.engine(nil, a)
	f.poll(e, a)
	if n := f.JS.Count(t); n != 0 {
		t.Fatalf("from_now initial sync published %d events", n)
	}
	// Only what changes afterwards is published.
	truth := h.Truth(t, a)
	th := truth[len(truth)/2].ID
	mid := h.AddMessage(t, a, th, events.Inbound, "anyone?")
	f.poll(e, a)
	got := f.JS.ReadAll(t)
	c := counts(t, got)
	wantReplies := 1
	if Pending(truth[len(truth)/2]) {
		wantReplies = 0 // the episode was already open before from_now
	}
	if c.Created != 0 || c.Messages != 1 || c.Replies != wantReplies {
		t.Fatalf("after one new message: %+v, want 1 message and %d ReplyNeeded", c, wantReplies)
	}
	if d, _ := events.DecodeData(got[0].Envelope); d.(*events.MessageReceivedData).Message.ID != mid {
		t.Fatalf("published %v, want message %s", got[0].Envelope, mid)
	}
}

func testInboundThenReply(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	th := h.AddThread(t, a, "where is my parcel?")
	h.AddMessage(t, a, th, events.Outbound, "shipped")
	e := f.engine(nil)
	f.poll(e, a)
	base := len(f.JS.ReadAll(t))

	in := h.AddMessage(t, a, th, events.Inbound, "tracking number please?")
	f.poll(e, a)
	got := f.JS.ReadAll(t)[base:]
	if len(got) != 2 || got[0].Envelope.Type != events.MessageReceived || got[1].Envelope.Type != events.ReplyNeeded {
		t.Fatalf("after a customer message: %v, want MessageReceived then ReplyNeeded", types(got))
	}
	d, _ := events.DecodeData(got[0].Envelope)
	if m := d.(*events.MessageReceivedData).Message; m.ID != in || m.Direction != events.Inbound {
		t.Fatalf("message %s %s, want %s inbound", m.ID, m.Direction, in)
	}
	r, _ := events.DecodeData(got[1].Envelope)
	if rd := r.(*events.ReplyNeededData); rd.LastInboundMessageID != in || rd.NeededSince.IsZero() {
		t.Fatalf("ReplyNeeded %+v, want last inbound %s", rd, in)
	}

	out := h.AddMessage(t, a, th, events.Outbound, "here it is")
	f.poll(e, a)
	got = f.JS.ReadAll(t)[base+2:]
	if len(got) != 2 || got[0].Envelope.Type != events.MessageReceived || got[1].Envelope.Type != events.ReplyResolved {
		t.Fatalf("after the shop's answer: %v, want MessageReceived then ReplyResolved", types(got))
	}
	res, _ := events.DecodeData(got[1].Envelope)
	if rd := res.(*events.ReplyResolvedData); rd.Resolution != events.Answered || rd.AnswerMessageID != out || rd.WithinSLA != nil || rd.Policy != "" {
		t.Fatalf("ReplyResolved %+v, want answered by %s, no policy", rd, out)
	}
	d, _ = events.DecodeData(got[0].Envelope)
	if m := d.(*events.MessageReceivedData).Message; m.ID != out || m.Direction != events.Outbound {
		t.Fatalf("message %s %s, want %s outbound", m.ID, m.Direction, out)
	}
	// Nothing changed: nothing published, no message fetched.
	st := f.poll(e, a)
	if n := len(f.JS.ReadAll(t)); n != base+4 || st.Fetches != 0 {
		t.Fatalf("idle poll: stream grew to %d (want %d), %d message fetches", n, base+4, st.Fetches)
	}
}

func testNewThreadAndChangeFarDown(t *testing.T, h Harness) {
	f, a, e := synced(t, h, 3*pageSize)
	base := len(f.JS.ReadAll(t))
	truth := h.Truth(t, a)
	// The thread listed first (oldest) changes, and a new one appears.
	old := truth[0].ID
	h.AddMessage(t, a, old, events.Outbound, "late answer")
	nt := h.AddThread(t, a, "new question")
	f.poll(e, a)
	got := f.JS.ReadAll(t)[base:]
	c := counts(t, got)
	if c.Created != 1 || c.Messages != 2 || c.Replies != 1 {
		t.Fatalf("after a change and a new thread: %+v (%v), want 1 created, 2 messages, 1 reply-needed", c, types(got))
	}
	for _, r := range got {
		if r.Envelope.Subject != old && r.Envelope.Subject != nt {
			t.Fatalf("event for untouched thread %s", r.Envelope.Subject)
		}
	}
}

func testRestartEmitsNothing(t *testing.T, h Harness) {
	f, a, first := synced(t, h, 2*pageSize)
	first.Release() // a clean shutdown
	n := f.JS.Count(t)
	// A new process: new engine, new store handle, same Redis and stream.
	before := h.Requests(t, a)
	st := f.poll(f.engine(f.Replica()), a)
	if got := f.JS.Count(t); got != n || st.Events != 0 {
		t.Fatalf("restart published %d events (stream %d -> %d)", st.Events, n, got)
	}
	if after := h.Requests(t, a); after.Messages != before.Messages {
		t.Fatalf("restart fetched messages %d times for unchanged threads", after.Messages-before.Messages)
	}
}

// targets are where the fault scenarios fail an account: its thread list,
// or the message request of a thread that changed. Message requests are
// made on sweeps, where even a list that carries messages leaves them out.
var targets = []struct {
	name     string
	messages bool
}{{"list", false}, {"messages", true}}

// failAt makes the account's next n requests to target fail as flt says:
// list requests at once, or, from the moment the watched account's list
// shows thread, the message requests that follow.
func (f *fixture) failAt(messages bool, w *Watch, a pollers.Account, thread string, flt Fault, n int) {
	if !messages {
		f.h.Fail(f.t, a, flt, n)
		return
	}
	w.AfterListing(thread, func() { f.h.FailNext(f.t, a, flt, n) })
}

// answered is a thread of the account that awaits no reply, which an
// answer changes without ending an episode; it fails the test when none does.
func answered(t *testing.T, h Harness, a pollers.Account) Thread {
	t.Helper()
	truth := h.Truth(t, a)
	i := slices.IndexFunc(truth, func(th Thread) bool { return !Pending(th) })
	if i < 0 {
		t.Fatal("every seeded thread awaits a reply")
	}
	return truth[i]
}

func testFaults(t *testing.T, h Harness) {
	faults := []struct {
		name  string
		f     Fault
		times int   // consecutive requests answered with the fault
		heals bool  // retried in place: the poll succeeds
		is    error // what a failed poll wraps
	}{
		{"401", Fault{Status: http.StatusUnauthorized}, 1, false, pollers.ErrAuth},
		{"429 healed in place", Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, 1, true, nil},
		{"429 outlasting the attempts", Fault{Status: http.StatusTooManyRequests, RetryAfter: "0.2"}, attempts, false, nil},
		{"500 healed in place", Fault{Status: http.StatusInternalServerError}, attempts - 1, true, nil},
		{"503 outlasting the attempts", Fault{Status: http.StatusServiceUnavailable}, attempts, false, nil},
		{"malformed", Fault{Status: http.StatusOK, Body: `{"data": [{"id": "x", `}, 1, false, pollers.ErrMalformed},
		{"wrong types", Fault{Status: http.StatusOK, Body: `{"data": 42, "results": "no"}`}, 1, false, pollers.ErrMalformed},
	}
	for _, tg := range targets {
		for _, fc := range faults {
			t.Run(tg.name+"/"+fc.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, h, 2)
				bad, good := f.accts[0], f.accts[1]
				f.seed(bad, pageSize+1)
				f.seed(good, 2)
				w := f.watch(bad)
				f.sweep = tg.messages
				e := f.engine(nil)
				f.poll(e, bad)
				f.poll(e, good)
				base := f.JS.Count(t)
				cur := f.cursor(bad)
				th := answered(t, h, bad)
				state := f.version(bad, th.ID)
				h.AddMessage(t, bad, th.ID, events.Outbound, "answer")
				h.AddMessage(t, good, answered(t, h, good).ID, events.Outbound, "answer")
				f.failAt(tg.messages, w, bad, th.ID, fc.f, fc.times)
				requests := func() int {
					r := h.Requests(t, bad)
					if tg.messages {
						return r.Messages
					}
					return r.List
				}
				before := requests()

				began := time.Now()
				st, err := e.PollOnce(context.Background(), bad.Provider, bad.ID)
				if fc.heals {
					if err != nil {
						t.Fatalf("poll through %d× %s: %v, want it retried in place", fc.times, fc.name, err)
					}
					if n := requests() - before; n < fc.times+1 {
						t.Fatalf("%d %s requests, want the %d refused ones and a retry", n, tg.name, fc.times)
					}
					if fc.f.RetryAfter == "1" && time.Since(began) < time.Second {
						t.Fatalf("retried after %s, before the Retry-After of 1s", time.Since(began))
					}
					if n := f.JS.Count(t); n != base+1 || st.Events != 1 {
						t.Fatalf("poll healed in place published %d events (stream +%d), want the answer", st.Events, n-base)
					}
					return
				}
				if err == nil {
					t.Fatal("poll through a fault succeeded")
				}
				if fc.is != nil && !errors.Is(err, fc.is) {
					t.Fatalf("error %v does not wrap %v", err, fc.is)
				}
				var he *pollers.HTTPError
				if fc.f.RetryAfter != "" && (!errors.As(err, &he) || he.RetryAfter <= 0) {
					t.Fatalf("error %v does not carry the Retry-After", err)
				}
				if n := requests() - before; fc.times > 1 && n != fc.times {
					t.Fatalf("%d %s requests, want %d attempts", n, tg.name, fc.times)
				}
				msg := err.Error()
				if !strings.Contains(msg, bad.String()) || !strings.Contains(msg, "http://") {
					t.Fatalf("error %q does not name the account and the URL", msg)
				}
				if strings.Contains(msg, bad.Token) {
					t.Fatalf("error %q contains the token", msg)
				}
				// The page that failed is not committed: pages before it may be.
				if v := f.version(bad, th.ID); v != state {
					t.Fatalf("failed poll committed the thread: version %q -> %q", state, v)
				}
				if after := f.cursor(bad); !tg.messages && !sameCursor(after, cur) {
					t.Fatalf("failed poll moved the cursor: %+v -> %+v", cur, after)
				}
				if n := f.JS.Count(t); n != base {
					t.Fatalf("failed poll published %d events", n-base)
				}
				// The other account goes on; the failed one recovers on retry,
				// once the Retry-After it was given is over.
				f.poll(e, good)
				f.poll(e, bad)
				if got := f.JS.ReadAll(t); len(got) != int(base)+2 {
					t.Fatalf("after recovery the stream grew by %d, want the 2 answers", len(got)-int(base))
				} else {
					counts(t, got)
				}
			})
		}
	}
}

// version is the thread's version as the account's checkpoint has it.
func (f *fixture) version(a pollers.Account, thread string) string {
	f.t.Helper()
	st, err := f.Store.Threads(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}, []string{thread})
	if err != nil {
		f.t.Fatal(err)
	}
	if st[0] == nil {
		f.t.Fatalf("thread %s has no state", thread)
	}
	return st[0].Version
}

func sameCursor(a, b checkpoint.Cursor) bool {
	return a.Page == b.Page && a.Since.Equal(b.Since) && a.High.Equal(b.High) && a.Synced == b.Synced
}

func testWrongToken(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 1)
	a.Token = "definitely-not-the-token-" + a.ID
	_, err := f.engine(nil, a).PollOnce(context.Background(), a.Provider, a.ID)
	if !errors.Is(err, pollers.ErrAuth) {
		t.Fatalf("poll with a wrong token: %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), a.Token) {
		t.Fatalf("error %q contains the token", err)
	}
}

// testRunRetriesAndIsolates: an account failing on its list or on a
// message request backs off and retries until it syncs, and the other
// account goes on meanwhile.
func testRunRetriesAndIsolates(t *testing.T, h Harness) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, h, 2)
			bad, good := f.accts[0], f.accts[1]
			bad.PollInterval, good.PollInterval = time.Hour, time.Hour
			f.seed(bad, 2)
			f.seed(good, 2)
			w := f.watch(bad)
			f.sweep = tg.messages
			e := f.engine(nil, bad, good)
			f.poll(e, bad)
			f.poll(e, good)
			th := answered(t, h, bad)
			h.AddMessage(t, bad, th.ID, events.Outbound, "answer")
			// The 502s outlast a request's attempts and fail one poll; the
			// 429 after them heals in place.
			f.failAt(tg.messages, w, bad, th.ID, Fault{Status: http.StatusBadGateway}, attempts)
			f.failAt(tg.messages, w, bad, th.ID, Fault{Status: http.StatusTooManyRequests, RetryAfter: "0.2"}, 1)

			type result struct {
				acct string
				err  error
			}
			results := make(chan result, 16)
			cfg := f.config(nil)
			cfg.OnPoll = func(a pollers.Account, _ pollers.Stats, err error) { results <- result{a.ID, err} }
			f.Run(f.Engine(cfg, bad, good))

			var badErrs int
			goodOK, badOK := false, false
			timeout := time.After(30 * time.Second)
			for !goodOK || !badOK {
				select {
				case r := <-results:
					switch {
					case r.acct == good.ID && r.err == nil:
						goodOK = true
					case r.acct == bad.ID && r.err != nil:
						badErrs++
					case r.acct == bad.ID:
						badOK = true
					default:
						t.Fatalf("account %s failed: %v", r.acct, r.err)
					}
				case <-timeout:
					t.Fatalf("accounts not synced in time (good %v, bad %v after %d failures)\n%s", goodOK, badOK, badErrs, f.Logs)
				}
			}
			if badErrs != 1 {
				t.Fatalf("the faulty account failed %d times, want 1 (502s outlasting the attempts; the 429 heals in place)", badErrs)
			}
			want := Expect(h.Truth(t, bad))
			w2 := Expect(h.Truth(t, good))
			want.Created, want.Messages, want.Replies = want.Created+w2.Created, want.Messages+w2.Messages, want.Replies+w2.Replies
			if c := counts(t, f.JS.ReadAll(t)); c != want {
				t.Fatalf("published %+v, want %+v", c, want)
			}
			logs := f.Logs.String()
			if !strings.Contains(logs, "account="+bad.String()) || !strings.Contains(logs, "HTTP 502") || !strings.Contains(logs, "retry_in") {
				t.Fatalf("log does not say which account failed and when it retries:\n%s", logs)
			}
			for _, a := range f.accts {
				if strings.Contains(logs, a.Token) {
					t.Fatal("log contains a token")
				}
			}
		})
	}
}

// testIdleWalkCost checks the provider's Features hold: with nothing new,
// an incremental provider asks for one list page and a full-scan provider
// for every page; neither fetches a message.
func testIdleWalkCost(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	incremental := h.Features().IncrementalList
	if incremental {
		// Without overlap only the newest thread comes back.
		a.Options["overlap"] = "0s"
	}
	f.seed(a, 3*pageSize)
	var commits atomic.Int32
	e := f.engine(&commitStore{Store: f.Store, onCommit: func() { commits.Add(1) }}, a)
	f.poll(e, a)
	before := h.Requests(t, a)
	commits.Store(0)
	st := f.poll(e, a)
	after := h.Requests(t, a)
	lists, fetches := after.List-before.List, after.Messages-before.Messages
	switch {
	case st.Events != 0 || fetches != 0:
		t.Fatalf("idle walk published %d events and fetched messages %d times", st.Events, fetches)
	case commits.Load() != 1 || st.Pages != lists:
		// Pages that change nothing leave their cursor to the last
		// page's commit.
		t.Fatalf("idle walk of %d pages (%d requests) made %d commits, want 1", st.Pages, lists, commits.Load())
	case incremental && lists != 1:
		t.Fatalf("incremental provider: idle walk made %d list requests, want 1", lists)
	case !incremental && lists < 3:
		t.Fatalf("full-scan provider: idle walk made %d list requests for %d threads by %d", lists, 3*pageSize, pageSize)
	}
}
