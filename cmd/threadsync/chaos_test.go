package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

// chaosHarnesses are the providers the chaos test runs live traffic on.
func chaosHarnesses() []pollerstest.Harness { return pollerstest.Harnesses() }

// TestChaos kills threadsync with SIGKILL at random moments while the
// simulators take live traffic and a second worker shares the accounts,
// restarts it each time, and then checks that
// the stream holds every event the simulators' ground truth implies exactly
// once: every thread and message, and for every reply-needed episode the
// truth derives (pollerstest.Episodes) the ReplyNeeded, ReplyResolved,
// warning and breach it calls for (see chaosEpisodes.check), the accounts
// of two providers running under a reply policy of seconds. `make test`
// runs a reduced form; `make chaos` (THREADSYNC_CHAOS=full) the full one:
// 20 kills, at least 5,000 messages.
func TestChaos(t *testing.T) {
	t.Parallel()
	chaos(t, "none", nil)
}

// TestChaosThrottled is TestChaos against APIs that throttle all along, as
// real ones do: every account's every 7th request is answered 429 with
// Retry-After: 1, and every 10th answer takes a second.
func TestChaosThrottled(t *testing.T) {
	t.Parallel()
	chaos(t, "throttled", []sim.Rule{
		{Every: 7, Status: http.StatusTooManyRequests, RetryAfter: "1"},
		{Every: 10, Delay: time.Second},
	})
}

// The reply policy of the chaos accounts of slaProviders: deadlines short
// enough to fall during the kills. Breaches wait slaGrace for a confirming
// poll.
const (
	slaPolicy      = "chaos"
	slaReplyWithin = 3 * time.Second
	slaWarnBefore  = time.Second
	slaGrace       = time.Second
	// slaSlack is how long after a deadline (and the grace, for breaches)
	// its event may still be on its way: a worker busy with a slow poll
	// fires timers after it.
	slaSlack = 3 * time.Second
)

// slaProviders are the providers whose chaos accounts have the policy:
// Mirakl, which states reply-needed, and SelfCommunity, which does not.
// Both write times to the microsecond; a provider writing whole seconds
// would make "answered by the deadline" undecidable within a second, and
// HubSpot's simulator runs a minute behind threadsync's clock.
var slaProviders = map[string]bool{"mirakl": true, "selfcommunity": true}

// chaos runs the chaos test with the simulators answering by rules.
func chaos(t *testing.T, faults string, rules []sim.Rule) {
	kills, messages := 5, 1000
	if os.Getenv("THREADSYNC_CHAOS") == "full" {
		kills, messages = 20, 5000
	}
	b := newBacking(t)
	js := b.js
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// Accounts on every provider, each with a few threads already there.
	type live struct {
		h       pollerstest.Harness
		a       pollers.Account
		sla     bool // under the chaos policy
		threads []string
	}
	var accounts []*live
	for _, h := range chaosHarnesses() {
		for i := range 3 {
			a := h.NewAccount(t, fmt.Sprintf("chaos-%d", i+1), 20)
			l := &live{h: h, a: a, sla: slaProviders[h.Provider()], threads: pollerstest.OpenThreads(t, h, a, 10)}
			h.Sustain(t, a, rules...)
			accounts = append(accounts, l)
		}
	}
	text := fmt.Sprintf("sla_policies:\n  %s:\n    reply_within: %s\n    warn_before: %s\naccounts:\n", slaPolicy, slaReplyWithin, slaWarnBefore)
	for _, l := range accounts {
		var sla []string
		if l.sla {
			sla = append(sla, "sla: "+slaPolicy)
		}
		text += accountEntry(l.a, sla...)
	}
	b.writeAccounts(text)
	env := b.env("THREADSYNC_LEASE_TTL=1s", "THREADSYNC_MAX_BACKOFF=1s", "THREADSYNC_SLA_GRACE="+slaGrace.String())

	// A second worker stays up throughout: the accounts move between it
	// and the one killed again and again (shares, hand-overs, lapsed
	// leases), and the guarantee must hold across both.
	replica := startProc(t, "replica", env, "run")
	// Ready before the traffic and the kills begin; and its SIGTERM at the
	// end must find it past start-up.
	replica.waitReady()

	// Live traffic: customers open threads and write, owners answer; now
	// and then an owner answers and the customer asks again at once, as
	// on Mirakl, within one poll: one episode ends and the next begins
	// before threadsync looks.
	var mu sync.Mutex // guards accounts' thread lists and written
	written := 0
	trafficDone := make(chan struct{})
	traffic := rand.New(rand.NewPCG(rnd.Uint64(), 8))
	go func() {
		defer close(trafficDone)
		tick := time.NewTicker(time.Duration(float64(kills) * 0.5 * float64(time.Second) / float64(messages)))
		defer tick.Stop()
		for {
			<-tick.C
			mu.Lock()
			if written >= messages {
				mu.Unlock()
				return
			}
			l := accounts[traffic.IntN(len(accounts))]
			th := l.threads[traffic.IntN(len(l.threads))]
			switch p := traffic.IntN(10); {
			case p < 2:
				l.threads = append(l.threads, l.h.AddThread(t, l.a, "new question"))
				written++
			case p < 3:
				l.h.AddMessage(t, l.a, th, events.Outbound, "answer")
				l.h.AddMessage(t, l.a, th, events.Inbound, "and another question")
				written += 2
			default:
				d := events.Inbound
				if traffic.IntN(2) == 0 {
					d = events.Outbound
				}
				l.h.AddMessage(t, l.a, th, d, "message")
				written++
			}
			mu.Unlock()
		}
	}()

	for i := range kills {
		// SIGKILL at a random moment, start-up included: nothing can catch
		// it, and the guarantee must hold wherever it lands.
		p := startProc(t, fmt.Sprintf("run %d", i), env, "run")
		timer := time.NewTimer(time.Duration(100+rnd.IntN(700)) * time.Millisecond)
		select {
		case <-p.exited:
			t.Fatalf("%s exited on its own: %v\n%s", p.name, p.err, p)
		case <-replica.exited:
			t.Fatalf("the replica exited: %v\n%s", replica.err, replica)
		case <-timer.C:
		}
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
	<-trafficDone

	// Ground truth and what it implies: every thread and message, and
	// every reply-needed episode.
	want := map[string]string{} // event id -> description
	var eps chaosEpisodes
	for _, l := range accounts {
		o := events.Origin{Prefix: js.Prefix, Provider: l.a.Provider, Account: l.a.ID}
		stated := l.h.Features().ReplyNeededStated
		for _, th := range l.h.Truth(t, l.a) {
			want[events.NewThreadCreated(o, events.Thread{ID: th.ID}).ID] = "ThreadCreated " + th.ID
			for _, m := range th.Messages {
				want[events.NewMessageReceived(o, th.ID, events.Message{ID: m.ID}).ID] = "MessageReceived " + m.ID
			}
			eps.add(o, th, l.sla, stated)
		}
	}

	// A last run, to the end: the signal is the stream holding every
	// ThreadCreated and MessageReceived the truth implies, a ReplyNeeded
	// for every episode still open and a ReplyResolved for every episode
	// announced and answered. The replica may have published all of them
	// already, so the run is also waited for until ready: only then does
	// its SIGTERM meet its handler, and the stop's exit status say
	// something. Then the deadlines of the episodes still open pass, so
	// that their warnings and breaches are due too.
	final := startProc(t, "final run", env, "run")
	final.waitReady()
	var lastRead time.Time
	settled := func() bool {
		if countTypes(t, js, events.ThreadCreated, events.MessageReceived) < len(want) ||
			countTypes(t, js, events.ReplyNeeded) < eps.openAtEnd() {
			return false
		}
		// Reading the whole stream is dear: twice a second at most.
		if time.Since(lastRead) < 500*time.Millisecond {
			return false
		}
		lastRead = time.Now()
		got := js.ReadAll(t)
		return eps.settled(got) && hasAll(got, want)
	}
	// Not settled in time, the checks below say precisely what is missing.
	for deadline := time.Now().Add(90 * time.Second); !settled(); time.Sleep(20 * time.Millisecond) {
		for _, p := range []*proc{final, replica} {
			if p.hasExited() {
				t.Fatalf("%s exited before the stream settled: %v\n%s", p.name, p.err, p)
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("the stream does not hold every thread, message and episode after 90s")
			break
		}
	}
	if last := eps.lastDeadline(); !last.IsZero() {
		settle := last.Add(slaGrace + slaSlack)
		waitFor(t, "the open episodes' deadlines", time.Until(settle)+10*time.Second, func() bool {
			return time.Now().After(settle)
		}, final, replica)
	}
	stopped := time.Now()
	final.stop()
	replica.stop()

	got := js.ReadAll(t)
	seen := map[string]int{}
	delivered := 0
	var unexpected []string
	for _, r := range got {
		seen[r.Envelope.ID]++
		switch r.Envelope.Type {
		case events.ThreadCreated, events.MessageReceived:
			delivered++
			if _, ok := want[r.Envelope.ID]; !ok {
				unexpected = append(unexpected, string(r.Envelope.Type)+" "+r.Envelope.Subject)
			}
		default:
			if !eps.known(r.Envelope.ID) {
				unexpected = append(unexpected, string(r.Envelope.Type)+" "+r.Envelope.Source+" "+r.Envelope.Subject+" "+r.Envelope.ID)
			}
		}
	}
	missing, dups := 0, 0
	for id, what := range want {
		if seen[id] == 0 {
			missing++
			t.Errorf("missing: %s", what)
		}
	}
	for _, n := range seen {
		if n > 1 {
			dups += n - 1
		}
	}
	f := eps.check(t, got, stopped)
	var requests, refused, early int64
	for _, l := range accounts {
		o := l.h.Observed(t, l.a)
		requests, refused, early = requests+o.Requests, refused+o.Status[http.StatusTooManyRequests], early+o.Early
	}
	fmt.Printf("chaos: faults=%s workers=2 kills=%d messages=%d expected=%d delivered=%d missing=%d duplicated=%d unexpected=%d "+
		"episodes=%d announced=%d open=%d ambiguous=%d resolved=%d warnings=%d warnings_wrong=%d breaches=%d confirmed=%d unconfirmed=%d unconfirmed_wrong=%d confirmed_wrong=%d sla_after_resolved=%d "+
		"requests=%d refused_429=%d early=%d\n",
		faults, kills, written, len(want), delivered, missing, dups, len(unexpected),
		f.episodes, f.announced, f.open, f.ambiguous, f.resolved, f.warnings, f.wrongWarnings, f.breaches, f.confirmed, f.breaches-f.confirmed, f.wrongUnconfirmed, f.wrongConfirmed, f.afterResolved,
		requests, refused, early)
	if missing > 0 || dups > 0 || len(unexpected) > 0 || f.problems > 0 {
		t.Fatalf("missing %d, duplicated %d, %d episode problems, unexpected %v", missing, dups, f.problems, unexpected)
	}
}

// hasAll reports whether got holds every event of want.
func hasAll(got []eventstest.Received, want map[string]string) bool {
	n := 0
	for _, r := range got {
		if _, ok := want[r.Envelope.ID]; ok {
			n++
		}
	}
	return n >= len(want) // ids are unique on the stream, or the test fails later
}

// episodeGroup is the truth's episodes of one thread that opened at one
// time, which is what an episode's event ids derive from. Mostly one; more
// when the API writes times too coarsely to tell them apart (OLX and
// Partizap write whole seconds: an answer and the next question in the
// same second as the question before): they share their events, the
// first one published taking each id.
type episodeGroup struct {
	origin events.Origin
	thread string
	eps    []pollerstest.Episode
	sla    bool // under the chaos policy
	stated bool // the provider states reply-needed: the ReplyNeeded names its newest inbound message, not the opener
	// The ids of the episode's events.
	needed, resolved, warning, breach string
}

func (g *episodeGroup) since() time.Time          { return g.eps[0].Since }
func (g *episodeGroup) last() pollerstest.Episode { return g.eps[len(g.eps)-1] }
func (g *episodeGroup) dueAt() time.Time          { return g.since().Add(slaReplyWithin) }
func (g *episodeGroup) warnAt() time.Time         { return g.since().Add(slaReplyWithin - slaWarnBefore) }

func (g *episodeGroup) String() string {
	return fmt.Sprintf("%s/%s thread %s episode since %s (opened by %s)",
		g.origin.Provider, g.origin.Account, g.thread, g.since().Format(time.RFC3339Nano), g.eps[0].Opener)
}

// chaosEpisodes is every episode of the truth, by the ids of its events.
type chaosEpisodes struct {
	groups []*episodeGroup
	byID   map[string]*episodeGroup // any of a group's four ids
	total  int
}

func (c *chaosEpisodes) add(o events.Origin, th pollerstest.Thread, sla, stated bool) {
	if c.byID == nil {
		c.byID = map[string]*episodeGroup{}
	}
	for _, e := range pollerstest.Episodes(th) {
		c.total++
		needed := events.NewReplyNeeded(o, th.ID, e.Since, "").ID
		if g := c.byID[needed]; g != nil {
			g.eps = append(g.eps, e)
			continue
		}
		g := &episodeGroup{origin: o, thread: th.ID, eps: []pollerstest.Episode{e}, sla: sla, stated: stated, needed: needed,
			resolved: events.NewReplyResolved(o, th.ID, events.Resolved{NeededSince: e.Since}).ID,
			warning:  events.NewReplySLAWarning(o, th.ID, e.Since, events.SLA{}, true).ID,
			breach:   events.NewReplySLABreached(o, th.ID, e.Since, events.SLA{}, false).ID,
		}
		for _, id := range []string{g.needed, g.resolved, g.warning, g.breach} {
			c.byID[id] = g
		}
		c.groups = append(c.groups, g)
	}
}

// known reports whether id is the id of an episode's event.
func (c *chaosEpisodes) known(id string) bool { return c.byID[id] != nil }

// openAtEnd counts the episodes still open (each must be announced).
func (c *chaosEpisodes) openAtEnd() int {
	n := 0
	for _, g := range c.groups {
		if g.last().Open() {
			n++
		}
	}
	return n
}

// lastDeadline is the latest deadline of an episode still open under the
// policy; zero for none.
func (c *chaosEpisodes) lastDeadline() time.Time {
	var last time.Time
	for _, g := range c.groups {
		if g.sla && g.last().Open() && g.dueAt().After(last) {
			last = g.dueAt()
		}
	}
	return last
}

// episodeEvents are the events of one episode group on the stream.
type episodeEvents struct {
	all      []eventstest.Received // in stream order
	needed   []*events.ReplyNeededData
	resolved []*events.ReplyResolvedData
	warnings []*events.ReplySLAData
	breaches []*events.ReplySLAData
}

// String lists the events with the times JetStream stored them, for a
// failure's report.
func (ev *episodeEvents) String() string {
	if ev == nil {
		return "\tno events"
	}
	var b strings.Builder
	for _, r := range ev.all {
		fmt.Fprintf(&b, "\t%s %s stored %s: %s\n", r.Envelope.Type, r.Envelope.ID, r.Stored.UTC().Format(time.RFC3339Nano), r.Envelope.Data)
	}
	return b.String()
}

// index sorts the stream's episode events by group.
func (c *chaosEpisodes) index(tb testing.TB, got []eventstest.Received) map[*episodeGroup]*episodeEvents {
	tb.Helper()
	out := map[*episodeGroup]*episodeEvents{}
	for _, r := range got {
		g := c.byID[r.Envelope.ID]
		if g == nil {
			continue
		}
		d, err := events.DecodeData(r.Envelope)
		if err != nil {
			tb.Fatal(err)
		}
		ev := out[g]
		if ev == nil {
			ev = &episodeEvents{}
			out[g] = ev
		}
		ev.all = append(ev.all, r)
		switch d := d.(type) {
		case *events.ReplyNeededData:
			ev.needed = append(ev.needed, d)
		case *events.ReplyResolvedData:
			ev.resolved = append(ev.resolved, d)
		case *events.ReplySLAData:
			if r.Envelope.Type == events.ReplySLAWarning {
				ev.warnings = append(ev.warnings, d)
			} else {
				ev.breaches = append(ev.breaches, d)
			}
		}
	}
	return out
}

// settled reports whether got announces every episode still open and
// resolves every episode announced and ended.
func (c *chaosEpisodes) settled(got []eventstest.Received) bool {
	type seen struct{ needed, resolved bool }
	s := map[*episodeGroup]*seen{}
	for _, r := range got {
		g := c.byID[r.Envelope.ID]
		if g == nil {
			continue
		}
		if s[g] == nil {
			s[g] = &seen{}
		}
		switch r.Envelope.ID {
		case g.needed:
			s[g].needed = true
		case g.resolved:
			s[g].resolved = true
		}
	}
	for _, g := range c.groups {
		e := s[g]
		switch {
		case g.last().Open() && (e == nil || !e.needed):
			return false
		case !g.last().Open() && e != nil && e.needed && !e.resolved:
			return false
		}
	}
	return true
}

// chaosFigures are what check found.
type chaosFigures struct {
	episodes, announced, open, ambiguous       int
	resolved, warnings, breaches, confirmed    int
	wrongUnconfirmed, problems, problemsLogged int
	// wrongWarnings counts the confirmed warnings of episodes answered by
	// warn_at; wrongUnconfirmed the unconfirmed warnings and breaches of
	// episodes answered in time.
	wrongWarnings int
	// wrongConfirmed counts the confirmed breaches, stored after their
	// episode's ReplyResolved, of episodes answered in time.
	wrongConfirmed int
	// afterResolved counts the warnings and breaches the stream holds
	// after their episode's ReplyResolved.
	afterResolved int
}

// check checks the stream's episode events against the truth: the
// workers stopped at stopped.
//   - Every episode still open is announced; one answered may be (it was
//     seen open) or not (it opened and was answered between two polls).
//   - An episode announced and answered has one ReplyResolved naming its
//     answer; one still open has none; one not announced has no events
//     but possibly its ReplyNeeded.
//   - Under the policy, an announced episode has a warning if it was
//     still open at warn_at, and a breach if it was still open at
//     due_at. A confirmed warning or breach never follows an answer
//     given by its time; an unconfirmed one may (it went out on the last
//     state known when polls failed), and is counted. For an episode
//     still open, warning and breach are required only when their time
//     and the grace passed slaSlack before the workers stopped.
//   - Episodes whose ids coincide (see episodeGroup) are checked as a
//     group: announced if the last one is open, and resolved, if at all,
//     by one of their answers.
func (c *chaosEpisodes) check(t *testing.T, got []eventstest.Received, stopped time.Time) chaosFigures {
	t.Helper()
	f := chaosFigures{episodes: c.total}
	idx := c.index(t, got)
	// Every event of a thread, for a problem's report.
	byThread := map[string][]eventstest.Received{}
	for _, r := range got {
		if r.Envelope.Subject != "" {
			k := r.Envelope.Source + " " + r.Envelope.Subject
			byThread[k] = append(byThread[k], r)
		}
	}
	problem := func(g *episodeGroup, format string, args ...any) {
		f.problems++
		if f.problemsLogged < 50 {
			f.problemsLogged++
			var all strings.Builder
			for _, r := range byThread[g.origin.Source()+" "+g.thread] {
				fmt.Fprintf(&all, "\t\t%s %s stored %s: %s\n", r.Envelope.Type, r.Envelope.ID, r.Stored.Format(time.RFC3339Nano), r.Raw)
			}
			t.Errorf("%s: %s\n%s\tthe thread's events:\n%s", g, fmt.Sprintf(format, args...), idx[g], &all)
		}
	}
	for _, g := range c.groups {
		ev := idx[g]
		if ev == nil {
			ev = &episodeEvents{}
		}
		last := g.last()
		announced := len(ev.needed) > 0
		if last.Open() {
			f.open++
		}
		if len(g.eps) > 1 {
			f.ambiguous += len(g.eps)
		}
		if announced {
			f.announced += len(g.eps)
		}
		f.resolved += len(ev.resolved)
		f.warnings += len(ev.warnings)
		f.breaches += len(ev.breaches)
		for _, b := range ev.breaches {
			if b.Confirmed != nil && *b.Confirmed {
				f.confirmed++
			}
		}
		switch {
		case last.Open() && !announced:
			problem(g, "still open, never announced")
			continue
		case !announced:
			if n := len(ev.resolved) + len(ev.warnings) + len(ev.breaches); n > 0 {
				problem(g, "never announced, but %d ReplyResolved, %d warnings, %d breaches", len(ev.resolved), len(ev.warnings), len(ev.breaches))
			}
			continue
		}
		n := ev.needed[0]
		if !g.stated && len(g.eps) == 1 && n.LastInboundMessageID != g.eps[0].Opener {
			problem(g, "ReplyNeeded names inbound message %s, want the opener", n.LastInboundMessageID)
		}
		if g.sla {
			if n.Policy != slaPolicy || n.DueAt == nil || !n.DueAt.Equal(g.dueAt()) || n.WarnAt == nil || !n.WarnAt.Equal(g.warnAt()) {
				problem(g, "ReplyNeeded policy %q due_at %v warn_at %v, want %q %v %v", n.Policy, n.DueAt, n.WarnAt, slaPolicy, g.dueAt(), g.warnAt())
			}
		} else if n.Policy != "" || n.DueAt != nil || n.WarnAt != nil {
			problem(g, "ReplyNeeded with policy %q due_at %v though the account has none", n.Policy, n.DueAt)
		}
		if len(g.eps) > 1 {
			c.checkAmbiguous(g, ev, problem)
			continue
		}
		e := g.eps[0]
		switch {
		case e.Open():
			if len(ev.resolved) > 0 {
				problem(g, "still open, but resolved: %s %s", ev.resolved[0].Resolution, ev.resolved[0].AnswerMessageID)
			}
		case len(ev.resolved) == 0:
			problem(g, "announced and ended (answer %v), never resolved", e.Answer)
			continue
		case e.Closed:
			if r := ev.resolved[0]; r.Resolution != events.Closed {
				problem(g, "closed, but resolved %s by %s", r.Resolution, r.AnswerMessageID)
			}
		default:
			r := ev.resolved[0]
			if r.Resolution != events.Answered || r.AnswerMessageID != e.Answer.ID || !r.ResolvedAt.Equal(e.Answer.At) {
				problem(g, "resolved %s by %q at %s, want answered by %s at %s",
					r.Resolution, r.AnswerMessageID, r.ResolvedAt.Format(time.RFC3339Nano), e.Answer.ID, e.Answer.At.Format(time.RFC3339Nano))
			}
			if g.sla {
				within := !e.Answer.At.After(g.dueAt())
				if r.WithinSLA == nil || *r.WithinSLA != within || r.DueAt == nil || !r.DueAt.Equal(g.dueAt()) {
					problem(g, "ReplyResolved within_sla %v due_at %v, want %v %v", r.WithinSLA, r.DueAt, within, g.dueAt())
				}
			} else if r.WithinSLA != nil || r.DueAt != nil {
				problem(g, "ReplyResolved with within_sla %v due_at %v though the account has no policy", r.WithinSLA, r.DueAt)
			}
		}
		if !g.sla {
			if len(ev.warnings)+len(ev.breaches) > 0 {
				problem(g, "%d warnings and %d breaches though the account has no policy", len(ev.warnings), len(ev.breaches))
			}
			continue
		}
		c.checkDeadlines(g, e, ev, stopped, &f, problem)
	}
	return f
}

// checkDeadlines checks an announced episode's warning and breach.
func (c *chaosEpisodes) checkDeadlines(g *episodeGroup, e pollerstest.Episode, ev *episodeEvents, stopped time.Time, f *chaosFigures, problem func(*episodeGroup, string, ...any)) {
	answer := "still open"
	if e.Answer != nil {
		answer = "answered at " + e.Answer.At.Format(time.RFC3339Nano)
	}
	resolved := false
	for _, r := range ev.all {
		switch r.Envelope.Type {
		case events.ReplyResolved:
			resolved = true
		case events.ReplySLAWarning, events.ReplySLABreached:
			if resolved {
				f.afterResolved++
				answer += " (" + string(r.Envelope.Type) + " after the ReplyResolved)"
			}
		}
	}
	for _, s := range append(slices.Clone(ev.warnings), ev.breaches...) {
		if s.Policy != slaPolicy || !s.DueAt.Equal(g.dueAt()) {
			problem(g, "SLA event with policy %q due_at %s, want %q %s", s.Policy, s.DueAt, slaPolicy, g.dueAt())
		}
	}
	// Warning: iff open at warn_at.
	switch {
	case e.OpenAt(g.warnAt()) && len(ev.warnings) == 0 && (!e.Open() || g.warnAt().Add(slaGrace+slaSlack).Before(stopped)):
		problem(g, "no warning, though %s after warn_at %s", answer, g.warnAt().Format(time.RFC3339Nano))
	case !e.OpenAt(g.warnAt()):
		// Like a breach, a warning is decided by a poll made at its
		// time; one unconfirmed went out on the last state known.
		for _, w := range ev.warnings {
			if w.Confirmed != nil && *w.Confirmed {
				f.wrongWarnings++
				problem(g, "a confirmed warning, though %s, by warn_at %s", answer, g.warnAt().Format(time.RFC3339Nano))
			} else {
				f.wrongUnconfirmed++
			}
		}
	}
	// Breach: iff open at due_at; confirmed never after an answer in time.
	switch {
	case e.OpenAt(g.dueAt()) && len(ev.breaches) == 0 && (!e.Open() || g.dueAt().Add(slaGrace+slaSlack).Before(stopped)):
		problem(g, "no breach, though %s after due_at %s", answer, g.dueAt().Format(time.RFC3339Nano))
	case !e.OpenAt(g.dueAt()):
		for _, b := range ev.breaches {
			switch {
			case b.Confirmed != nil && *b.Confirmed:
				f.wrongConfirmed++
				problem(g, "a confirmed breach, though %s, by due_at %s", answer, g.dueAt().Format(time.RFC3339Nano))
			default:
				f.wrongUnconfirmed++
			}
		}
	}
}

// checkAmbiguous checks a group of episodes whose ids coincide: what one
// of them allows is allowed.
func (c *chaosEpisodes) checkAmbiguous(g *episodeGroup, ev *episodeEvents, problem func(*episodeGroup, string, ...any)) {
	if !g.last().Open() && len(ev.resolved) == 0 {
		problem(g, "%d episodes with these ids announced and ended, never resolved", len(g.eps))
	}
	for _, r := range ev.resolved {
		ok := false
		for _, e := range g.eps {
			ok = ok || (e.Answer != nil && r.Resolution == events.Answered && r.AnswerMessageID == e.Answer.ID)
		}
		if !ok {
			problem(g, "resolved %s by %q, by none of its %d episodes' answers", r.Resolution, r.AnswerMessageID, len(g.eps))
		}
	}
	if !g.sla && len(ev.warnings)+len(ev.breaches) > 0 {
		problem(g, "%d warnings and %d breaches though the account has no policy", len(ev.warnings), len(ev.breaches))
	}
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countTypes counts the stream's messages of the given event types.
func countTypes(t *testing.T, js *eventstest.Env, types ...events.Type) int {
	t.Helper()
	n, err := js.CountOf(types...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
