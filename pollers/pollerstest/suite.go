package pollerstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
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
		{"LostCommit", testLostCommit},
		{"Deadlines", testDeadlines},
		{"DeadlinesAfterDowntime", testDeadlinesAfterDowntime},
		{"UnconfirmedBreach", testUnconfirmedBreach},
		{"NewThreadAndChangeFarDown", testNewThreadAndChangeFarDown},
		{"RestartEmitsNothing", testRestartEmitsNothing},
		{"CrashBeforeCommit", testCrashBeforeCommit},
		{"ResumeMidWalk", testResumeMidWalk},
		{"Faults", testFaults},
		{"WrongToken", testWrongToken},
		{"RunRetriesAndIsolates", testRunRetriesAndIsolates},
		{"IdleWalkCost", testIdleWalkCost},
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

// fixture is one scenario's world: a Redis store, a JetStream, accounts.
type fixture struct {
	t     *testing.T
	h     Harness
	store *checkpoint.Store
	js    *eventstest.Env
	accts []pollers.Account
	logs  *Buffer
}

func newFixture(t *testing.T, h Harness, n int) *fixture {
	store, _ := checkpointtest.NewStore(t)
	f := &fixture{t: t, h: h, store: store, js: eventstest.Start(t), logs: &Buffer{}}
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

func (f *fixture) config(store pollers.Store) pollers.Config {
	if store == nil {
		store = f.store
	}
	return pollers.Config{
		Store: store, Publisher: f.js.Publisher,
		Providers:   map[string]pollers.Factory{f.h.Provider(): f.h.Factory()},
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  2 * time.Second,
		HTTPTimeout: 10 * time.Second,
		Retry:       pollers.RetryPolicy{Attempts: attempts, MinWait: 5 * time.Millisecond, MaxWait: 50 * time.Millisecond},
		Logger:      slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
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
	st, err := e.PollOnce(context.Background(), a.Provider, a.ID)
	if err != nil {
		f.t.Fatalf("poll %s: %v", a, err)
	}
	if !st.Completed {
		f.t.Fatalf("poll %s did not complete its walk: %+v", a, st)
	}
	return st
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
	byThread := map[string][]eventstest.Received{}
	for _, r := range got {
		byThread[r.Envelope.Subject] = append(byThread[r.Envelope.Subject], r)
	}
	for _, th := range truth {
		evs := byThread[th.ID]
		if len(evs) == 0 || evs[0].Envelope.Type != events.ThreadCreated {
			t.Fatalf("thread %s: first event is not ThreadCreated: %v", th.ID, types(evs))
		}
		var msgIDs []string
		replyAfter := -1
		for i, r := range evs {
			switch r.Envelope.Type {
			case events.MessageReceived:
				d, err := events.DecodeData(r.Envelope)
				if err != nil {
					t.Fatal(err)
				}
				m := d.(*events.MessageReceivedData).Message
				msgIDs = append(msgIDs, m.ID)
				if want := th.Messages[len(msgIDs)-1]; m.ID != want.ID || m.Direction != want.Direction {
					t.Fatalf("thread %s: message %d is %s (%s), want %s (%s)", th.ID, len(msgIDs), m.ID, m.Direction, want.ID, want.Direction)
				}
			case events.ReplyNeeded:
				replyAfter = i
				if len(msgIDs) == 0 || th.Messages[len(msgIDs)-1].Direction != events.Inbound {
					t.Fatalf("thread %s: ReplyNeeded not right after an inbound message: %v", th.ID, types(evs))
				}
			}
		}
		if len(msgIDs) != len(th.Messages) {
			t.Fatalf("thread %s: %d messages published, want %d", th.ID, len(msgIDs), len(th.Messages))
		}
		if Pending(th) != (replyAfter >= 0) {
			t.Fatalf("thread %s: pending=%v but events %v", th.ID, Pending(th), types(evs))
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
	checkFullSync(t, h.Truth(t, a), f.js.ReadAll(t))
}

func testFromNow(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	a.InitialSync = pollers.SyncFromNow
	f.seed(a, 2*pageSize+1)
	e := f.engine(nil, a)
	f.poll(e, a)
	if n := f.js.Count(t); n != 0 {
		t.Fatalf("from_now initial sync published %d events", n)
	}
	// Only what changes afterwards is published.
	truth := h.Truth(t, a)
	th := truth[len(truth)/2].ID
	mid := h.AddMessage(t, a, th, events.Inbound, "anyone?")
	f.poll(e, a)
	got := f.js.ReadAll(t)
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
	base := len(f.js.ReadAll(t))

	in := h.AddMessage(t, a, th, events.Inbound, "tracking number please?")
	f.poll(e, a)
	got := f.js.ReadAll(t)[base:]
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
	got = f.js.ReadAll(t)[base+2:]
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
	if n := len(f.js.ReadAll(t)); n != base+4 || st.Fetches != 0 {
		t.Fatalf("idle poll: stream grew to %d (want %d), %d message fetches", n, base+4, st.Fetches)
	}
}

func testNewThreadAndChangeFarDown(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 3*pageSize)
	e := f.engine(nil)
	f.poll(e, a)
	base := len(f.js.ReadAll(t))
	truth := h.Truth(t, a)
	// The thread listed first (oldest) changes, and a new one appears.
	old := truth[0].ID
	h.AddMessage(t, a, old, events.Outbound, "late answer")
	nt := h.AddThread(t, a, "new question")
	f.poll(e, a)
	got := f.js.ReadAll(t)[base:]
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
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 2*pageSize)
	first := f.engine(nil)
	f.poll(first, a)
	first.Release() // a clean shutdown
	n := f.js.Count(t)
	// A new process: new engine, new store handle, same Redis and stream.
	store, err := checkpoint.New(checkpointtest.Redis(t), storePrefix(t, f.store))
	if err != nil {
		t.Fatal(err)
	}
	before := h.Requests(t, a)
	st := f.poll(f.engine(store), a)
	if got := f.js.Count(t); got != n || st.Events != 0 {
		t.Fatalf("restart published %d events (stream %d -> %d)", st.Events, n, got)
	}
	if after := h.Requests(t, a); after.Messages != before.Messages {
		t.Fatalf("restart fetched messages %d times for unchanged threads", after.Messages-before.Messages)
	}
}

// failingStore fails the next commits after the events are published, as a
// crash between publish and commit would.
type failingStore struct {
	pollers.Store
	mu       sync.Mutex
	fail     int
	onCommit func()
}

var errCrash = errors.New("simulated crash before commit")

func (s *failingStore) Commit(ctx context.Context, l checkpoint.Lease, c checkpoint.Cursor, st map[string]*checkpoint.ThreadState, tm checkpoint.TimerChanges) (time.Time, error) {
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		return time.Time{}, errCrash
	}
	s.mu.Unlock()
	first, err := s.Store.Commit(ctx, l, c, st, tm)
	if err != nil {
		return first, err
	}
	if s.onCommit != nil {
		s.onCommit()
	}
	return first, nil
}

func testCrashBeforeCommit(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 2*pageSize+2)
	crashing := &failingStore{Store: f.store, fail: 2}
	e := f.engine(crashing)
	for range 2 {
		if _, err := e.PollOnce(context.Background(), a.Provider, a.ID); !errors.Is(err, errCrash) {
			t.Fatalf("poll: %v, want the simulated crash", err)
		}
	}
	if c, _ := f.store.Cursor(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}); c.Synced || c.Page != "" {
		t.Fatalf("cursor moved although no commit succeeded: %+v", c)
	}
	// The first page was published twice already; the restarted walk
	// publishes it a third time. Consumers see each event once.
	f.poll(f.engine(nil), a)
	checkFullSync(t, h.Truth(t, a), f.js.ReadAll(t))
}

func testResumeMidWalk(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 3*pageSize)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Stop after the first committed page, as SIGTERM would; the page
	// already sent by then is finished too.
	stopping := &failingStore{Store: f.store, onCommit: cancel}
	st, err := f.engine(stopping).PollOnce(ctx, a.Provider, a.ID)
	if err != nil || st.Completed || st.Pages < 1 || st.Pages > 2 {
		t.Fatalf("interrupted walk: %+v, %v; want 1 or 2 of 3 pages committed, not completed", st, err)
	}
	c, err := f.store.Cursor(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID})
	if err != nil || c.Page == "" {
		t.Fatalf("cursor after one page: %+v, %v; want a page to resume from", c, err)
	}
	before := h.Requests(t, a)
	st = f.poll(f.engine(nil), a)
	if st.Threads > 2*pageSize {
		t.Fatalf("resumed walk listed %d threads of %d: it started over", st.Threads, 3*pageSize)
	}
	if after := h.Requests(t, a); after.List-before.List != st.Pages {
		t.Fatalf("resumed walk made %d list requests for %d pages", after.List-before.List, st.Pages)
	}
	checkFullSync(t, h.Truth(t, a), f.js.ReadAll(t))
}

func testFaults(t *testing.T, h Harness) {
	faults := []struct {
		name  string
		f     Fault
		times int   // consecutive list requests answered with the fault
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
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, h, 2)
			bad, good := f.accts[0], f.accts[1]
			f.seed(bad, pageSize+1)
			f.seed(good, 1)
			e := f.engine(nil)
			f.poll(e, bad)
			f.poll(e, good)
			base := f.js.Count(t)
			key := checkpoint.Account{Provider: bad.Provider, ID: bad.ID}
			cur, _ := f.store.Cursor(context.Background(), key)

			// An answer is one event, two when it ends an announced
			// episode (its ReplyResolved).
			answer := func(a pollers.Account) uint64 {
				th := h.Truth(t, a)[0]
				h.AddMessage(t, a, th.ID, events.Outbound, "answer")
				if Pending(th) {
					return 2
				}
				return 1
			}
			wantBad, wantGood := answer(bad), answer(good)
			h.Fail(t, bad, fc.f, fc.times)
			before := h.Requests(t, bad)

			began := time.Now()
			st, err := e.PollOnce(context.Background(), bad.Provider, bad.ID)
			if fc.heals {
				if err != nil {
					t.Fatalf("poll through %d× %s: %v, want it retried in place", fc.times, fc.name, err)
				}
				if after := h.Requests(t, bad); after.List-before.List < fc.times+1 {
					t.Fatalf("%d list requests, want the %d refused ones and a retry", after.List-before.List, fc.times)
				}
				if fc.f.RetryAfter == "1" && time.Since(began) < time.Second {
					t.Fatalf("retried after %s, before the Retry-After of 1s", time.Since(began))
				}
				if n := f.js.Count(t); n != base+wantBad || uint64(st.Events) != wantBad {
					t.Fatalf("poll healed in place published %d events (stream +%d), want %d", st.Events, n-base, wantBad)
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
			if fc.times > 1 {
				if after := h.Requests(t, bad); after.List-before.List != fc.times {
					t.Fatalf("%d list requests, want %d attempts", after.List-before.List, fc.times)
				}
			}
			msg := err.Error()
			if !strings.Contains(msg, bad.String()) || !strings.Contains(msg, "http://") {
				t.Fatalf("error %q does not name the account and the URL", msg)
			}
			if strings.Contains(msg, bad.Token) {
				t.Fatalf("error %q contains the token", msg)
			}
			if after, _ := f.store.Cursor(context.Background(), key); !sameCursor(after, cur) {
				t.Fatalf("failed poll moved the cursor: %+v -> %+v", cur, after)
			}
			if n := f.js.Count(t); n != base {
				t.Fatalf("failed poll published %d events", n-base)
			}
			// The other account goes on; the failed one recovers on retry,
			// once the Retry-After it was given is over.
			f.poll(e, good)
			f.poll(e, bad)
			if n := f.js.Count(t); n != base+wantBad+wantGood {
				t.Fatalf("after recovery the stream grew by %d, want %d", n-base, wantBad+wantGood)
			}
		})
	}
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

func testRunRetriesAndIsolates(t *testing.T, h Harness) {
	f := newFixture(t, h, 2)
	bad, good := f.accts[0], f.accts[1]
	bad.PollInterval, good.PollInterval = time.Hour, time.Hour
	f.seed(bad, 2)
	f.seed(good, 2)
	// The 502s outlast a request's attempts and fail one poll; the 429
	// after them heals in place.
	h.Fail(t, bad, Fault{Status: http.StatusBadGateway}, attempts)
	h.Fail(t, bad, Fault{Status: http.StatusTooManyRequests, RetryAfter: "0.2"}, 1)

	type result struct {
		acct string
		err  error
	}
	results := make(chan result, 16)
	cfg := f.config(nil)
	cfg.OnPoll = func(a pollers.Account, _ pollers.Stats, err error) { results <- result{a.ID, err} }
	e, err := pollers.New(cfg, []pollers.Account{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

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
			t.Fatalf("accounts not synced in time (good %v, bad %v after %d failures)\n%s", goodOK, badOK, badErrs, f.logs)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if badErrs != 1 {
		t.Fatalf("the faulty account failed %d times, want 1 (502s outlasting the attempts; the 429 heals in place)", badErrs)
	}
	want := Expect(h.Truth(t, bad))
	w2 := Expect(h.Truth(t, good))
	want.Created, want.Messages, want.Replies = want.Created+w2.Created, want.Messages+w2.Messages, want.Replies+w2.Replies
	if c := counts(t, f.js.ReadAll(t)); c != want {
		t.Fatalf("published %+v, want %+v", c, want)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "account="+bad.String()) || !strings.Contains(logs, "HTTP 502") || !strings.Contains(logs, "retry_in") {
		t.Fatalf("log does not say which account failed and when it retries:\n%s", logs)
	}
	for _, a := range f.accts {
		if strings.Contains(logs, a.Token) {
			t.Fatal("log contains a token")
		}
	}
}

// storePrefix recovers a store's key prefix.
func storePrefix(t *testing.T, s *checkpoint.Store) string {
	k := s.Keys(checkpoint.Account{Provider: "p", ID: "a"}).Cursor
	return strings.TrimSuffix(k, ":{p:a}:cursor")
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
	e := f.engine(nil, a)
	f.poll(e, a)
	before := h.Requests(t, a)
	st := f.poll(e, a)
	after := h.Requests(t, a)
	lists, fetches := after.List-before.List, after.Messages-before.Messages
	switch {
	case st.Events != 0 || fetches != 0:
		t.Fatalf("idle walk published %d events and fetched messages %d times", st.Events, fetches)
	case incremental && lists != 1:
		t.Fatalf("incremental provider: idle walk made %d list requests, want 1", lists)
	case !incremental && lists < 3:
		t.Fatalf("full-scan provider: idle walk made %d list requests for %d threads by %d", lists, 3*pageSize, pageSize)
	}
}
