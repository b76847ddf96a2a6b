package pollerstest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sla"
)

// RealTimer is implemented by harnesses whose simulators run a clock of
// their own for the other scenarios: NewRealTimeAccount returns an account
// on a simulator keeping the real time. Reply deadlines are counted in the
// provider's time, so the deadline scenarios need it.
type RealTimer interface {
	NewRealTimeAccount(tb testing.TB, id string, pageSize int) pollers.Account
}

// deadlineFixture is a fixture whose account's simulator keeps the real
// time, with the policy p, polled an hour apart (only deadlines poll it).
func deadlineFixture(t *testing.T, h Harness, p *sla.Policy) (*fixture, pollers.Account) {
	f := newFixture(t, h, 1)
	if rt, ok := h.(RealTimer); ok {
		f.accts[0] = rt.NewRealTimeAccount(t, "acct-1", pageSize)
	}
	a := f.accts[0]
	a.SLA, a.PollInterval = p, time.Hour
	return f, a
}

// replyEvents are a thread's episode events read from the stream.
type replyEvents struct {
	needed   []*events.ReplyNeededData
	warnings []eventstest.Received
	breaches []eventstest.Received
	resolved []*events.ReplyResolvedData
}

func repliesOf(tb testing.TB, got []eventstest.Received, thread string) replyEvents {
	tb.Helper()
	var r replyEvents
	for _, g := range got {
		if g.Envelope.Subject != thread {
			continue
		}
		d, err := events.DecodeData(g.Envelope)
		if err != nil {
			tb.Fatal(err)
		}
		switch g.Envelope.Type {
		case events.ReplyNeeded:
			r.needed = append(r.needed, d.(*events.ReplyNeededData))
		case events.ReplySLAWarning:
			r.warnings = append(r.warnings, g)
		case events.ReplySLABreached:
			r.breaches = append(r.breaches, g)
		case events.ReplyResolved:
			r.resolved = append(r.resolved, d.(*events.ReplyResolvedData))
		}
	}
	return r
}

func (r replyEvents) String() string {
	return fmt.Sprintf("%d ReplyNeeded, %d warnings, %d breaches, %d resolved", len(r.needed), len(r.warnings), len(r.breaches), len(r.resolved))
}

// testAnswerAndAskAgain: the other side writes twice and the owner has
// not answered: one episode, since the first of the two. Then the owner
// answers and the other side writes again between two polls: the answered
// episode is resolved and the new one is announced with its own
// ReplyNeeded, for providers that state reply-needed as for those whose
// messages tell it, with one message request handed the newest message
// seen.
func testAnswerAndAskAgain(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	stated := h.Features().ReplyNeededStated
	th := h.AddThread(t, a, "where is my parcel?")
	also := h.AddMessage(t, a, th, events.Inbound, "hello?")
	w := f.watch(a)
	e := f.engine(nil)
	f.poll(e, a)
	first := repliesOf(t, f.JS.ReadAll(t), th)
	truth := thread(t, h, a, th)
	opener := truth.Messages[0].ID
	if stated {
		// The provider names no message; the newest inbound one is it.
		opener = also
	}
	if len(first.needed) != 1 || first.needed[0].LastInboundMessageID != opener || !first.needed[0].NeededSince.Equal(Episodes(truth)[0].Since) {
		t.Fatalf("after two questions: %v (%+v), want one ReplyNeeded since the first, by %s", first, first.needed, opener)
	}
	answer := h.AddMessage(t, a, th, events.Outbound, "shipped yesterday")
	// An episode is known by its thread and when it began; providers
	// that keep whole seconds cannot tell two apart within one second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	again := h.AddMessage(t, a, th, events.Inbound, "it has not arrived")
	mark := len(w.Fetches())
	f.poll(e, a)
	checkFetches(t, h, w.Fetches()[mark:], thread(t, h, a, th), truth.Messages[len(truth.Messages)-1])
	got := f.JS.ReadAll(t)
	r := repliesOf(t, got, th)
	if len(r.needed) != 2 || len(r.resolved) != 1 {
		var b strings.Builder
		for _, g := range got {
			fmt.Fprintf(&b, "%s %s\n", g.Envelope.Type, g.Raw)
		}
		t.Fatalf("after answer and question between two polls: %v, want 2 ReplyNeeded and 1 ReplyResolved\n%s", r, &b)
	}
	res, next := r.resolved[0], r.needed[1]
	if res.Resolution != events.Answered || res.AnswerMessageID != answer || !res.NeededSince.Equal(first.needed[0].NeededSince) ||
		res.ResponseSeconds < 0 || res.ResolvedAt.Before(res.NeededSince) {
		t.Fatalf("ReplyResolved %+v, want the first episode answered by %s", res, answer)
	}
	if !next.NeededSince.After(res.ResolvedAt) && !next.NeededSince.Equal(res.ResolvedAt) {
		t.Fatalf("new episode since %v, before the answer at %v", next.NeededSince, res.ResolvedAt)
	}
	if next.LastInboundMessageID != again {
		t.Fatalf("new episode opened by %s, want %s", next.LastInboundMessageID, again)
	}
	// Order: the questions and their ReplyNeeded (right after the first
	// where messages tell it, after both where the provider states it),
	// the answer, its resolution, the question, its ReplyNeeded.
	want := "ThreadCreated MessageReceived ReplyNeeded MessageReceived"
	if stated {
		want = "ThreadCreated MessageReceived MessageReceived ReplyNeeded"
	}
	want += " MessageReceived ReplyResolved MessageReceived ReplyNeeded"
	if order := typesOf(got, th); order != want {
		t.Fatalf("events %v, want %s", order, want)
	}
	// The second episode ends with its own resolution.
	h.AddMessage(t, a, th, events.Outbound, "sent again")
	f.poll(e, a)
	if r := repliesOf(t, f.JS.ReadAll(t), th); len(r.resolved) != 2 || !r.resolved[1].NeededSince.Equal(next.NeededSince) {
		t.Fatalf("after the second answer: %v", r)
	}
}

// thread is one thread of the account's truth.
func thread(t *testing.T, h Harness, a pollers.Account, id string) Thread {
	t.Helper()
	truth := h.Truth(t, a)
	i := slices.IndexFunc(truth, func(th Thread) bool { return th.ID == id })
	if i < 0 {
		t.Fatalf("thread %s is not in the truth", id)
	}
	return truth[i]
}

// typesOf is the types of a thread's events, in order.
func typesOf(got []eventstest.Received, thread string) string {
	var order []string
	for _, g := range got {
		if g.Envelope.Subject == thread {
			order = append(order, string(g.Envelope.Type))
		}
	}
	return strings.Join(order, " ")
}

// checkFetches checks one poll's message requests of a changed thread,
// whose newest message seen before was seen: at most one, handed that
// message as its cursor, and answered with every message of the thread
// or, with Features.MessageCursor, the newest of them from the cursor's
// on at least (a suffix of th's messages).
func checkFetches(t *testing.T, h Harness, fetches []Fetch, th Thread, seen Message) {
	t.Helper()
	if len(fetches) > 1 {
		t.Fatalf("%d message requests for one changed thread", len(fetches))
	}
	cursor := h.Features().MessageCursor
	for _, fe := range fetches {
		if fe.Err != nil || fe.After.ID != seen.ID || !fe.After.At.Equal(seen.At) {
			t.Fatalf("messages of %s after %+v: %v; want them after the newest seen, %s at %v", fe.Thread, fe.After, fe.Err, seen.ID, seen.At)
		}
		var ids, all []string
		for _, m := range fe.Got {
			ids = append(ids, m.ID)
		}
		for _, m := range th.Messages {
			all = append(all, m.ID)
		}
		from := len(all) - len(ids)
		switch {
		case from < 0 || !slices.Equal(all[from:], ids):
			t.Fatalf("messages %v are not the newest of the thread's %v, oldest first", ids, all)
		case !cursor && from != 0:
			t.Fatalf("without a message cursor the provider returned %d of the thread's %d messages", len(ids), len(all))
		case cursor && from > slices.Index(all, seen.ID)+1:
			t.Fatalf("messages %v after the cursor %s miss some of %v", ids, seen.ID, all)
		}
	}
}

// testClosedThread: closing a thread (Hooks.Close) ends its open episode,
// as closed, and is no news for an answered one: no message, at most one
// message request each. The other side writing in a closed thread opens a
// new episode.
func testClosedThread(t *testing.T, h Harness) {
	closeThread := h.Hooks().Close
	if closeThread == nil {
		t.Skip("the provider's threads do not close")
	}
	f := newFixture(t, h, 1)
	a := f.accts[0]
	waiting := h.AddThread(t, a, "refund?")
	answered := h.AddThread(t, a, "is it in stock?")
	h.AddMessage(t, a, answered, events.Outbound, "yes")
	e := f.engine(nil)
	f.poll(e, a)
	base := f.JS.ReadAll(t)
	needed := repliesOf(t, base, waiting).needed
	closeThread(t, a, waiting)
	closeThread(t, a, answered)
	st := f.poll(e, a)
	got := f.JS.ReadAll(t)[len(base):]
	if len(got) != 1 || st.Fetches > 2 {
		t.Fatalf("after closing both threads: %v (%+v), want only the waiting one's ReplyResolved, at most one fetch each", types(got), st)
	}
	if r := repliesOf(t, got, waiting); len(needed) != 1 || len(r.resolved) != 1 || r.resolved[0].Resolution != events.Closed ||
		r.resolved[0].AnswerMessageID != "" || !r.resolved[0].NeededSince.Equal(needed[0].NeededSince) {
		t.Fatalf("the waiting thread's closing: %+v, want its episode resolved as closed", r.resolved)
	}
	if th := thread(t, h, a, waiting); !th.Closed || Pending(th) {
		t.Fatalf("the truth of the closed thread: %+v", th)
	}
	var again []string
	for _, th := range []string{waiting, answered} {
		again = append(again, h.AddMessage(t, a, th, events.Inbound, "one more thing"))
	}
	f.poll(e, a)
	all := f.JS.ReadAll(t)
	for i, th := range []string{waiting, answered} {
		r := repliesOf(t, all[len(base)+1:], th)
		if typesOf(all[len(base)+1:], th) != "MessageReceived ReplyNeeded" || r.needed[0].LastInboundMessageID != again[i] {
			t.Fatalf("thread %s after a message in it closed: %v, want a new episode opened by %s", th, r, again[i])
		}
	}
	checkThreads(t, h.Truth(t, a), all)
}

// policy returns a reply policy for the deadline scenarios.
func policy(t *testing.T, within, warn time.Duration) *sla.Policy {
	t.Helper()
	spec := sla.Spec{ReplyWithin: within.String()}
	if warn > 0 {
		spec.WarnBefore = warn.String()
	}
	p, err := sla.Parse("suite", spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testDeadlines: with polls an hour apart, a policy's warning comes at
// warn_at and its breach at due_at, decided by a poll made at the
// deadline, so an answer written just before the deadline (and not seen
// by any poll before it) resolves the episode in time, with no breach.
func testDeadlines(t *testing.T, h Harness) {
	f, a := deadlineFixture(t, h, policy(t, 10*time.Second, 5*time.Second))
	late := h.AddThread(t, a, "anyone there?")
	onTime := h.AddThread(t, a, "a quick question")
	stop := f.Run(f.engine(nil, a))
	var due time.Time
	f.Until("both threads announced", func() bool {
		got := f.JS.ReadAll(t)
		l, o := repliesOf(t, got, late), repliesOf(t, got, onTime)
		if len(l.needed) == 1 && len(o.needed) == 1 {
			due = *o.needed[0].DueAt
			return true
		}
		return false
	})
	// The answer comes after the warning, before the deadline.
	time.Sleep(time.Until(due.Add(-2 * time.Second)))
	answer := h.AddMessage(t, a, onTime, events.Outbound, "here you are")
	f.Until("the breach and the resolution", func() bool {
		got := f.JS.ReadAll(t)
		return len(repliesOf(t, got, late).breaches) == 1 && len(repliesOf(t, got, onTime).resolved) == 1
	})
	got := f.JS.ReadAll(t)
	l, o := repliesOf(t, got, late), repliesOf(t, got, onTime)
	needed := l.needed[0]
	if needed.Policy != "suite" || needed.DueAt == nil || needed.WarnAt == nil || !needed.DueAt.Equal(needed.NeededSince.Add(10*time.Second)) {
		t.Fatalf("ReplyNeeded %+v, want the policy's deadlines", needed)
	}
	if len(l.warnings) != 1 || l.warnings[0].Stored.Before(*needed.WarnAt) {
		t.Fatalf("late thread: %v; warning stored at %v, warn_at %v", l, stored(l.warnings), needed.WarnAt)
	}
	b, _ := events.DecodeData(l.breaches[0].Envelope)
	if bd := b.(*events.ReplySLAData); bd.Confirmed == nil || !*bd.Confirmed || l.breaches[0].Stored.Before(*needed.DueAt) || len(l.resolved) != 0 {
		t.Fatalf("late thread: breach %+v stored at %v, due %v; %v", bd, l.breaches[0].Stored, needed.DueAt, l)
	}
	res := o.resolved[0]
	if len(o.breaches) != 0 || len(o.warnings) != 1 || res.AnswerMessageID != answer || res.WithinSLA == nil || !*res.WithinSLA ||
		res.Policy != "suite" || res.DueAt == nil || !res.DueAt.Equal(due) {
		t.Fatalf("thread answered in time: %v, resolution %+v", o, res)
	}
	// Answered late, after a restart: resolved outside the policy, and
	// the breach already sent is not sent again.
	stop()
	// Providers that keep whole seconds would date an answer in the
	// deadline's second at the deadline.
	time.Sleep(time.Until(needed.DueAt.Add(time.Second)))
	h.AddMessage(t, a, late, events.Outbound, "sorry for the wait")
	f.Run(f.engine(nil, a))
	f.Until("the late answer resolved", func() bool { return len(repliesOf(t, f.JS.ReadAll(t), late).resolved) == 1 })
	l = repliesOf(t, f.JS.ReadAll(t), late)
	if r := l.resolved[0]; *r.WithinSLA || len(l.breaches) != 1 || len(l.warnings) != 1 {
		t.Fatalf("late answer: %+v; %v", r, l)
	}
}

func stored(rs []eventstest.Received) []time.Time {
	var out []time.Time
	for _, r := range rs {
		out = append(out, r.Stored)
	}
	return out
}

// testDeadlinesAfterDowntime: deadlines that passed while no worker ran
// fire when one starts, each once, the breach decided by its first poll;
// the worker that starts is another replica, which takes the account's
// timers over with its lease.
func testDeadlinesAfterDowntime(t *testing.T, h Harness) {
	f, a := deadlineFixture(t, h, policy(t, 4*time.Second, 2*time.Second))
	th := h.AddThread(t, a, "hello?")
	stop := f.Run(f.engine(nil, a))
	due := f.announced(th)
	stop()
	if r := repliesOf(t, f.JS.ReadAll(t), th); len(r.breaches) != 0 {
		t.Skipf("the breach came before the worker stopped (a loaded machine): %v", r)
	}
	time.Sleep(time.Until(due.Add(200 * time.Millisecond)))
	replica := f.Replica()
	if replica.Owner() == f.Store.Owner() {
		t.Fatal("the replica has the first worker's owner id")
	}
	f.Run(f.engine(replica, a))
	f.Until("the overdue breach", func() bool { return len(repliesOf(t, f.JS.ReadAll(t), th).breaches) == 1 })
	r := repliesOf(t, f.JS.ReadAll(t), th)
	b, _ := events.DecodeData(r.breaches[0].Envelope)
	if len(r.warnings) != 1 || !*b.(*events.ReplySLAData).Confirmed {
		t.Fatalf("after downtime: %v, breach %+v", r, b)
	}
}

// announced waits for the thread's ReplyNeeded and returns when it is due.
func (f *fixture) announced(thread string) (due time.Time) {
	f.t.Helper()
	f.Until("the thread announced", func() bool {
		if r := repliesOf(f.t, f.JS.ReadAll(f.t), thread); len(r.needed) == 1 {
			due = *r.needed[0].DueAt
			return true
		}
		return false
	})
	return due
}

// testUnconfirmedBreach: when the account cannot be polled at the
// deadline, the breach goes out after the grace period, unconfirmed.
func testUnconfirmedBreach(t *testing.T, h Harness) {
	f, a := deadlineFixture(t, h, policy(t, 5*time.Second, 0))
	th := h.AddThread(t, a, "hello?")
	cfg := f.config(nil)
	cfg.SLAGrace = time.Second
	f.Run(f.Engine(cfg, a))
	due := f.announced(th)
	h.Fail(t, a, Fault{Status: http.StatusServiceUnavailable}, 1_000_000)
	f.Until("the breach", func() bool { return len(repliesOf(t, f.JS.ReadAll(t), th).breaches) == 1 })
	r := repliesOf(t, f.JS.ReadAll(t), th)
	b, _ := events.DecodeData(r.breaches[0].Envelope)
	if bd := b.(*events.ReplySLAData); *bd.Confirmed || r.breaches[0].Stored.Before(due.Add(time.Second)) {
		t.Fatalf("breach %+v stored at %v; due %v, grace 1s", bd, r.breaches[0].Stored, due)
	}
}

// testLostCommit: a page announces an episode and its commit is lost; the
// owner answers before the next look, so that look sees an episode that
// opened and ended since the state committed. The ReplyNeeded already on
// the stream still gets its ReplyResolved: from the worker that lost the
// commit, and from another that takes the account over from a worker
// that died.
func testLostCommit(t *testing.T, h Harness) {
	for _, takeover := range []bool{false, true} {
		name := "same worker"
		if takeover {
			name = "another worker after a crash"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, h, 1)
			a := f.accts[0]
			th := h.AddThread(t, a, "where is my parcel?")
			lossy := &commitStore{Store: f.Store}
			e := f.engine(lossy, a)
			lossy.fail.Store(1)
			if _, err := e.PollOnce(context.Background(), a.Provider, a.ID); err == nil {
				t.Fatal("the poll whose commit was lost succeeded")
			}
			first := repliesOf(t, f.JS.ReadAll(t), th)
			if len(first.needed) != 1 {
				t.Fatalf("after the lost commit: %v, want the ReplyNeeded published", first)
			}
			answer := h.AddMessage(t, a, th, events.Outbound, "shipped yesterday")
			if takeover {
				// The worker died: its lease lapses unreleased and
				// another worker takes the account.
				if err := f.Redis.Del(context.Background(), f.Store.Keys(checkpoint.Account{Provider: a.Provider, ID: a.ID}).Lease).Err(); err != nil {
					t.Fatal(err)
				}
				e = f.engine(f.Replica(), a)
			}
			f.poll(e, a)
			r := repliesOf(t, f.JS.ReadAll(t), th)
			if len(r.needed) != 1 || len(r.resolved) != 1 {
				t.Fatalf("after the answer: %v, want the one ReplyNeeded and its ReplyResolved", r)
			}
			if res := r.resolved[0]; res.Resolution != events.Answered || res.AnswerMessageID != answer || !res.NeededSince.Equal(first.needed[0].NeededSince) {
				t.Fatalf("ReplyResolved %+v, want the announced episode answered by %s", res, answer)
			}
			// The next quick exchange: the worker that lost its own
			// page knew what the page announced and does not announce
			// it; one that took over from a dead worker cannot tell an
			// episode that worker may have seen open, and announces and
			// resolves it. Either way none is left open.
			q := h.AddMessage(t, a, th, events.Inbound, "thanks, and the invoice?")
			h.AddMessage(t, a, th, events.Outbound, "attached")
			f.poll(e, a)
			r = repliesOf(t, f.JS.ReadAll(t), th)
			if want := 1; takeover && len(r.needed) != len(r.resolved) || !takeover && (len(r.needed) != want || len(r.resolved) != want) {
				t.Fatalf("a question (%s) answered between two polls, after the recovery: %v", q, r)
			}
		})
	}
}
