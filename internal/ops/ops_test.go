package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/internal/ops"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/sim"
)

// deployment is a running engine over two Mirakl shops, and the operator
// commands acting on it through the same Redis and JetStream.
type deployment struct {
	t      *testing.T
	w      *pollerstest.World
	shops  map[string]*pollerstest.Shop
	accts  []pollers.Account
	engine *pollers.Engine
	stop   func()
	ops    *ops.Ops
	out    *bytes.Buffer

	mu    sync.Mutex
	polls map[string][]pollers.Stats // by account id, successful polls
}

func newDeployment(t *testing.T, cfg pollers.Config, threads int, accts ...func(s *pollerstest.Shop) pollers.Account) *deployment {
	t.Helper()
	d := &deployment{t: t, w: pollerstest.NewWorld(t), shops: map[string]*pollerstest.Shop{}, polls: map[string][]pollers.Stats{}, out: &bytes.Buffer{}}
	for _, mk := range accts {
		s := pollerstest.NewShop(t, threads, 2, nil)
		a := mk(s)
		d.shops[a.ID] = s
		d.accts = append(d.accts, a)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	cfg.OnPoll = func(a pollers.Account, st pollers.Stats, err error) {
		if err == nil {
			d.mu.Lock()
			d.polls[a.ID] = append(d.polls[a.ID], st)
			d.mu.Unlock()
		}
	}
	d.engine = d.w.Engine(cfg, d.accts...)
	d.ops = &ops.Ops{Store: d.w.Store, Accounts: d.accts, Publisher: d.w.JS.Publisher, SubjectPrefix: d.w.JS.Prefix, Out: d.out}
	return d
}

func (d *deployment) run() { d.stop = d.w.Run(d.engine) }

// completed counts the account's completed polls so far.
func (d *deployment) completed(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, st := range d.polls[id] {
		if st.Completed {
			n++
		}
	}
	return n
}

// lastPoll returns the account's last successful poll; before a second
// one, its first.
func (d *deployment) lastPoll(id string) pollers.Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.polls[id]
	if len(p) == 0 {
		return pollers.Stats{}
	}
	return p[len(p)-1]
}

// ofAccount returns the stream's events of the account, by type.
func (d *deployment) ofAccount(id string) map[events.Type][]eventstest.Received {
	out := map[events.Type][]eventstest.Received{}
	for _, r := range d.w.JS.ReadAll(d.t) {
		if strings.HasPrefix(r.Subject, d.w.JS.Prefix+".mirakl."+id+".") {
			out[r.Envelope.Type] = append(out[r.Envelope.Type], r)
		}
	}
	return out
}

// created reports whether the account's ThreadCreated of thread is on the stream.
func (d *deployment) created(id, thread string) bool {
	for _, r := range d.ofAccount(id)[events.ThreadCreated] {
		if r.Envelope.Subject == thread {
			return true
		}
	}
	return false
}

func (d *deployment) status(id string) pollers.AccountStatus {
	for _, s := range d.engine.Status() {
		if s.Account == "mirakl/"+id {
			return s
		}
	}
	return pollers.AccountStatus{}
}

// countCompleted makes cfg count the completed polls, and returns the count.
func countCompleted(cfg *pollers.Config) func() int {
	var n atomic.Int64
	cfg.OnPoll = func(_ pollers.Account, st pollers.Stats, err error) {
		if err == nil && st.Completed {
			n.Add(1)
		}
	}
	return func() int { return int(n.Load()) }
}

func account(id string, initial pollers.InitialSync) func(s *pollerstest.Shop) pollers.Account {
	return func(s *pollerstest.Shop) pollers.Account {
		a := s.Account(id, nil)
		a.InitialSync = initial
		return a
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestPauseResume: a paused account sends no request and publishes
// nothing while the other goes on; resumed, it catches up at once. Both
// changes are on the stream, with who and why.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, pollers.Config{}, 3, account("a", pollers.SyncFull), account("b", pollers.SyncFull))
	d.run()
	d.w.Until("both accounts synced", func() bool { return d.completed("a") > 0 && d.completed("b") > 0 })

	if err := d.ops.Pause(ctx(t), "mirakl/a", "ops@example", "offboarding"); err != nil {
		t.Fatal(err)
	}
	d.w.Until("a paused", func() bool { return d.status("a").State == "paused" })
	if p := d.status("a").Paused; p == nil || p.By != "ops@example" || p.Reason != "offboarding" {
		t.Fatalf("status of a paused: %+v", d.status("a"))
	}
	list, msgs := d.shops["a"].Requests()
	// Messages written to both: b publishes its own, a nothing.
	ta := d.shops["a"].Open(pollerstest.MiraklShop, "anyone there?")
	tb := d.shops["b"].Open(pollerstest.MiraklShop, "hello?")
	d.w.Until("b's new thread published", func() bool { return d.created("b", tb) })
	before := d.completed("b")
	d.w.Until("b polled twice more", func() bool { return d.completed("b") >= before+2 })
	if l, m := d.shops["a"].Requests(); l != list || m != msgs {
		t.Fatalf("paused a sent requests: list %d→%d, messages %d→%d", list, l, msgs, m)
	}
	if d.created("a", ta) {
		t.Fatal("paused a published its new thread")
	}
	if st, err := d.ops.States(ctx(t)); err != nil || st[0].Paused == nil || st[0].Holder != "" || st[1].Holder == "" {
		t.Fatalf("states while a is paused: %+v, %v", st, err)
	}

	if err := d.ops.Resume(ctx(t), "mirakl/a", "ops@example", "back"); err != nil {
		t.Fatal(err)
	}
	d.w.Until("a's new thread published after resume", func() bool { return d.created("a", ta) })
	evs := d.ofAccount("a")
	if len(evs[events.AccountPaused]) != 1 || len(evs[events.AccountResumed]) != 1 {
		t.Fatalf("account events of a: %d paused, %d resumed", len(evs[events.AccountPaused]), len(evs[events.AccountResumed]))
	}
	var p events.AccountData
	if err := json.Unmarshal(evs[events.AccountPaused][0].Envelope.Data, &p); err != nil || p.By != "ops@example" || p.Reason != "offboarding" || p.State != "paused" {
		t.Fatalf("AccountPaused data %+v, %v", p, err)
	}
	// Pausing twice is one pause.
	if err := d.ops.Pause(ctx(t), "mirakl/a", "x", "y"); err != nil {
		t.Fatal(err)
	}
	if err := d.ops.Pause(ctx(t), "mirakl/a", "z", "w"); err != nil || !strings.Contains(d.out.String(), "paused already, by x") {
		t.Fatalf("second pause: %v\n%s", err, d.out)
	}
}

// TestSyncNow: an account on an hour's interval polls within moments of
// being asked to.
func TestSyncNow(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, pollers.Config{PollInterval: time.Hour}, 2, account("a", pollers.SyncFull))
	d.run()
	d.w.Until("synced", func() bool { return d.completed("a") > 0 })
	th := d.shops["a"].Open(pollerstest.MiraklShop, "missing message?")
	asked := time.Now()
	if err := d.ops.SyncNow(ctx(t), "mirakl/a"); err != nil {
		t.Fatal(err)
	}
	d.w.Until("the new thread published", func() bool { return d.created("a", th) })
	t.Logf("sync-now to event on the stream: %s", time.Since(asked).Round(time.Millisecond))
	if err := d.ops.SyncNow(ctx(t), "mirakl/nope"); err == nil {
		t.Fatal("sync-now of an unknown account succeeded")
	}
}

// TestReset: --full publishes the whole inbox again (JetStream drops the
// copies within its window, so the poll's own count says it); --from-now
// publishes nothing for what is there, and what comes after as usual.
func TestReset(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, pollers.Config{}, 4, account("a", pollers.SyncFull))
	d.run()
	d.w.Until("synced", func() bool { return d.completed("a") > 0 })
	first := d.lastPoll("a").Events
	if first == 0 {
		t.Fatal("the first walk published nothing")
	}

	if err := d.ops.Reset(ctx(t), "mirakl/a", "full", "ops", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.out.String(), "reset done") {
		t.Fatalf("reset --full not carried out within 10s:\n%s", d.out)
	}
	d.w.Until("a full walk after the reset", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, st := range d.polls["a"][1:] {
			if st.Walk == pollers.WalkInitial && st.Completed && st.Events == first {
				return true
			}
		}
		return false
	})

	n := len(d.w.JS.ReadAll(t))
	d.out.Reset()
	if err := d.ops.Reset(ctx(t), "mirakl/a", "from_now", "ops", 10*time.Second); err != nil || !strings.Contains(d.out.String(), "reset done") {
		t.Fatalf("reset --from-now: %v\n%s", err, d.out)
	}
	mark := d.completed("a")
	d.w.Until("a polled after the silent reset", func() bool { return d.completed("a") > mark })
	th := d.shops["a"].Open(pollerstest.MiraklShop, "new after reset")
	d.w.Until("the new thread published", func() bool { return d.created("a", th) })
	// The new thread: its ThreadCreated, its message, its ReplyNeeded.
	if got := len(d.w.JS.ReadAll(t)); got != n+3 {
		t.Fatalf("stream holds %d events after the from_now reset and one new thread, want %d", got, n+3)
	}
}

// TestBackfill: an account that started from_now publishes nothing of its
// inbox; a backfill then publishes every thread and message it skipped,
// exactly once, with the ids live polling uses, no ReplyNeeded for the old
// episodes, and nothing live polling published in the meantime.
func TestBackfill(t *testing.T) {
	t.Parallel()
	// Quiet, and with the API refusing every 5th request (429) for the
	// whole sync, the live polls and the backfill alike.
	for name, rules := range map[string][]sim.Rule{
		"quiet":         nil,
		"429 every 5th": {{Every: 5, Status: http.StatusTooManyRequests}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backfill(t, rules)
		})
	}
}

func backfill(t *testing.T, rules []sim.Rule) {
	const threads = 30
	d := newDeployment(t, pollers.Config{}, threads, account("a", pollers.SyncFromNow))
	d.shops["a"].SetSchedule(rules...)
	d.run()
	d.w.Until("synced silently", func() bool { return d.completed("a") > 0 })
	if n := len(d.w.JS.ReadAll(t)); n != 0 {
		t.Fatalf("from_now start published %d events", n)
	}
	// Live traffic between the start and the backfill: a new thread,
	// and an answer in an old one. Live polling publishes them.
	shop := d.shops["a"]
	fresh := shop.Open(pollerstest.MiraklShop, "a new question")
	old := shop.Truth(pollerstest.MiraklShop)[0].ID
	shop.Write(pollerstest.MiraklShop, old, events.Outbound, "an answer after the start")
	d.w.Until("live changes published", func() bool {
		evs := d.ofAccount("a")
		return len(evs[events.ThreadCreated]) == 1 && len(evs[events.MessageReceived]) == 2
	})

	var seen []checkpoint.Backfill
	b, err := d.ops.Backfill(ctx(t), "mirakl/a", time.Time{}, "ops", func(b checkpoint.Backfill) { seen = append(seen, b) })
	if err != nil {
		t.Fatal(err)
	}
	if b.Threads != threads || b.Total != threads+1 || b.Done.IsZero() || len(seen) == 0 {
		t.Fatalf("backfill %+v (progress reports %d)", b, len(seen))
	}
	evs := d.ofAccount("a")
	ids := map[string]bool{}
	for _, list := range evs {
		for _, r := range list {
			if ids[r.MsgID] {
				t.Fatalf("event %s (%s) on the stream twice", r.MsgID, r.Envelope.Type)
			}
			ids[r.MsgID] = true
		}
	}
	// Every thread once; every message of the truth once: the seeded two
	// per thread, the live answer and the new thread's question.
	want := 0
	for _, th := range shop.Truth(pollerstest.MiraklShop) {
		want += len(th.Messages)
	}
	if got := len(evs[events.ThreadCreated]); got != threads+1 {
		t.Fatalf("%d ThreadCreated, want %d", got, threads+1)
	}
	if got := len(evs[events.MessageReceived]); got != want {
		t.Fatalf("%d MessageReceived, want %d (the whole truth, once)", got, want)
	}
	// The ReplyNeeded of the live thread only.
	if got := len(evs[events.ReplyNeeded]); got != 1 || evs[events.ReplyNeeded][0].Envelope.Subject != fresh {
		t.Fatalf("%d ReplyNeeded after the backfill, want only the new thread's", got)
	}
	if len(rules) > 0 {
		if o := d.shops["a"].ScheduleStats(pollerstest.MiraklShop); o.Status[http.StatusTooManyRequests] == 0 {
			t.Fatalf("the schedule refused nothing: %+v", o)
		}
	}
	// A second backfill finds nothing left to publish.
	b, err = d.ops.Backfill(ctx(t), "mirakl/a", time.Time{}, "ops", func(checkpoint.Backfill) {})
	if err != nil || b.Threads != 0 || b.Events != 0 {
		t.Fatalf("second backfill %+v, %v", b, err)
	}
}

// TestHealthEvents: a run of failures long enough is announced once and
// its end too; refused credentials are announced at once, and pause the
// account once they have lasted AutoPauseAfter.
func TestHealthEvents(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, pollers.Config{FailingAfter: 3, AutoPauseAfter: 300 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Retry: pollers.RetryPolicy{Attempts: 1}}, 2, account("a", pollers.SyncFull))
	d.shops["a"].InjectFault(miraklsim.Fault{Status: http.StatusBadGateway, Times: 5})
	d.run()
	d.w.Until("recovered after the faults", func() bool { return len(d.ofAccount("a")[events.AccountRecovered]) == 1 })
	evs := d.ofAccount("a")
	if len(evs[events.AccountFailing]) != 1 {
		t.Fatalf("%d AccountFailing for one run of failures", len(evs[events.AccountFailing]))
	}
	var f events.AccountData
	if err := json.Unmarshal(evs[events.AccountFailing][0].Envelope.Data, &f); err != nil || f.Failures != 3 || f.ErrorClass != "provider" || !strings.Contains(f.Error, "502") {
		t.Fatalf("AccountFailing data %+v, %v", f, err)
	}
	if st, _ := d.ops.States(ctx(t)); st[0].Failures != 0 {
		t.Fatalf("failures after recovery: %+v", st[0])
	}

	d.shops["a"].InjectFault(miraklsim.Fault{Status: http.StatusUnauthorized, Times: 1 << 30})
	d.w.Until("paused after refused credentials", func() bool { return d.status("a").State == "paused" })
	evs = d.ofAccount("a")
	if len(evs[events.AccountFailing]) != 2 || len(evs[events.AccountPaused]) != 1 {
		t.Fatalf("after refused credentials: %d AccountFailing, %d AccountPaused", len(evs[events.AccountFailing]), len(evs[events.AccountPaused]))
	}
	if err := json.Unmarshal(evs[events.AccountFailing][1].Envelope.Data, &f); err != nil || f.ErrorClass != "auth" || f.Failures != 1 {
		t.Fatalf("AccountFailing for refused credentials %+v, %v (want at once, class auth)", f, err)
	}
	var p events.AccountData
	if err := json.Unmarshal(evs[events.AccountPaused][0].Envelope.Data, &p); err != nil || p.By != "threadsync" || !strings.Contains(p.Reason, "credentials refused") {
		t.Fatalf("AccountPaused %+v, %v", p, err)
	}
}

// TestStateLoss: an account that synced, whose Redis state is then lost
// (Redis flushed, or the key prefix changed), finds its sync mark in
// JetStream: it says so with AccountStateLost, publishes no copy of what
// came before the mark, even with the stream's duplicate window long past,
// and publishes what comes after.
func TestStateLoss(t *testing.T) {
	t.Parallel()
	for _, lose := range []string{"FLUSHALL", "new key prefix"} {
		t.Run(lose, func(t *testing.T) {
			t.Parallel()
			w := pollerstest.NewWorld(t)
			srv := checkpointtest.StartServer(t)
			rdb := srv.Client(t)
			store := func(prefix string) *checkpoint.Store {
				s, err := checkpoint.New(rdb, prefix)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			marks, err := events.OpenMarks(ctx(t), w.JS.JS, w.JS.Stream, 1)
			if err != nil {
				t.Fatal(err)
			}
			shop := pollerstest.NewShop(t, 5, 2, nil)
			a := shop.Account("a", nil)
			cfg := pollers.Config{Store: store("threadsync"), Marks: marks, PollInterval: 50 * time.Millisecond}
			completed := countCompleted(&cfg)
			stop := w.Run(w.Engine(cfg, a))
			w.Until("synced", func() bool { return completed() > 0 })
			stop()
			before := w.JS.ReadAll(t)
			if len(before) == 0 {
				t.Fatal("nothing published")
			}

			switch lose {
			case "FLUSHALL":
				if err := rdb.FlushAll(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			default:
				cfg.Store = store("threadsync-renamed")
			}
			// Past the duplicate window, JetStream would keep any copy.
			w.JS.SetDuplicates(t, time.Second)
			time.Sleep(1500 * time.Millisecond) // the window must pass; nothing signals it

			stop = w.Run(w.Engine(cfg, a))
			defer stop()
			w.Until("AccountStateLost", func() bool { n, _ := w.JS.CountOf(events.AccountStateLost); return n == 1 })
			th := shop.Truth(pollerstest.MiraklShop)[0].ID
			msg := shop.Write(pollerstest.MiraklShop, th, events.Inbound, "written after the loss")
			w.Until("the new message published", func() bool {
				for _, r := range w.JS.ReadAll(t) {
					if r.Envelope.Type == events.MessageReceived && strings.Contains(string(r.Raw), msg) {
						return true
					}
				}
				return false
			})
			stop()
			seen := map[string]bool{}
			for _, r := range w.JS.ReadAll(t) {
				if seen[r.MsgID] {
					t.Fatalf("%s %s published twice", r.Envelope.Type, r.MsgID)
				}
				seen[r.MsgID] = true
			}
			for _, r := range before {
				if !seen[r.MsgID] {
					t.Fatalf("%s %s gone", r.Envelope.Type, r.MsgID)
				}
			}
			var lost events.AccountData
			for _, r := range w.JS.ReadAll(t) {
				if r.Envelope.Type == events.AccountStateLost {
					if err := json.Unmarshal(r.Envelope.Data, &lost); err != nil {
						t.Fatal(err)
					}
				}
			}
			if lost.Action != "resume" || lost.Mark == nil {
				t.Fatalf("AccountStateLost %+v", lost)
			}
		})
	}
}

// TestStateLossStop: with OnStateLoss stop, an account whose state is lost
// publishes nothing of its inbox: it says so and pauses itself until an
// operator resets it; a reset then starts it over.
func TestStateLossStop(t *testing.T) {
	t.Parallel()
	w := pollerstest.NewWorld(t)
	marks, err := events.OpenMarks(ctx(t), w.JS.JS, w.JS.Stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	shop := pollerstest.NewShop(t, 3, 2, nil)
	a := shop.Account("a", nil)
	cfg := pollers.Config{Marks: marks, OnStateLoss: pollers.StateLossStop, PollInterval: 50 * time.Millisecond}
	completed := countCompleted(&cfg)
	stop := w.Run(w.Engine(cfg, a))
	w.Until("synced", func() bool { return completed() > 0 })
	stop()
	n := len(w.JS.ReadAll(t))

	renamed, err := checkpoint.New(w.Redis, "renamed-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		iter := w.Redis.Scan(context.Background(), 0, "renamed-"+strings.ReplaceAll(t.Name(), "/", "-")+":*", 1000).Iterator()
		for iter.Next(context.Background()) {
			w.Redis.Del(context.Background(), iter.Val())
		}
	})
	cfg.Store = renamed
	e := w.Engine(cfg, a)
	stop = w.Run(e)
	defer stop()
	w.Until("paused after the loss", func() bool {
		for _, s := range e.Status() {
			if s.State == "paused" {
				return true
			}
		}
		return false
	})
	got := w.JS.ReadAll(t)
	if len(got) != n+2 || got[n].Envelope.Type != events.AccountStateLost || got[n+1].Envelope.Type != events.AccountPaused {
		t.Fatalf("after the loss the stream gained %d events, want AccountStateLost and AccountPaused only", len(got)-n)
	}
	o := &ops.Ops{Store: renamed, Accounts: []pollers.Account{a}, Publisher: w.JS.Publisher, SubjectPrefix: w.JS.Prefix, Out: &bytes.Buffer{}}
	if err := o.Reset(ctx(t), "mirakl/a", "from_now", "ops", 0); err != nil {
		t.Fatal(err)
	}
	if err := o.Resume(ctx(t), "mirakl/a", "ops", "reset after the loss"); err != nil {
		t.Fatal(err)
	}
	before := completed()
	w.Until("polled again after the reset", func() bool { return completed() > before })
	if got := len(w.JS.ReadAll(t)); got != n+3 {
		t.Fatalf("after the silent reset the stream holds %d events, want %d (+AccountResumed)", got, n+3)
	}
}

// TestBackfillYieldsToLivePolling: a long backfill (a slow rate budget)
// leaves live polling its turn: a message written while it runs is
// published before the backfill ends.
func TestBackfillYieldsToLivePolling(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, pollers.Config{}, 20, func(s *pollerstest.Shop) pollers.Account {
		a := s.Account("a", map[string]string{"page_size": "2", "requests_per_second": "20"})
		a.InitialSync = pollers.SyncFromNow
		return a
	})
	d.run()
	d.w.Until("synced silently", func() bool { return d.completed("a") > 0 })
	shop := d.shops["a"]
	ck := checkpoint.Account{Provider: "mirakl", ID: "a"}
	done := make(chan checkpoint.Backfill, 1)
	go func() {
		b, _ := d.ops.Backfill(context.Background(), "mirakl/a", time.Time{}, "ops", func(checkpoint.Backfill) {})
		done <- b
	}()
	d.w.Until("backfill under way", func() bool {
		b, err := d.w.Store.Backfill(context.Background(), ck)
		return err == nil && b != nil && b.Walked > 0
	})
	th := shop.Open(pollerstest.MiraklShop, "live, during the backfill")
	d.w.Until("the live thread published", func() bool { return d.created("a", th) })
	if b, err := d.w.Store.Backfill(context.Background(), ck); err != nil || !b.Done.IsZero() {
		t.Fatalf("the backfill ended (%+v, %v) before the live thread was published: live polling waited for it", b, err)
	}
	if b := <-done; b.Done.IsZero() || b.Threads != 20 {
		t.Fatalf("backfill %+v", b)
	}
}
