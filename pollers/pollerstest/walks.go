package pollerstest

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
)

// commitStore fails or watches a store's commits: the next fail commits
// are refused after their page was published, as a crash (or Redis
// failing) between publishing and committing leaves them, and onCommit
// runs after each commit that succeeds.
type commitStore struct {
	pollers.Store
	fail     atomic.Int32
	onCommit func()
}

var errCrash = errors.New("simulated crash before commit")

func (s *commitStore) Commit(ctx context.Context, l checkpoint.Lease, c checkpoint.Cursor, st map[string]*checkpoint.ThreadState, tm checkpoint.TimerChanges) (time.Time, error) {
	if s.fail.Add(-1) >= 0 {
		return time.Time{}, errCrash
	}
	s.fail.Store(0)
	first, err := s.Store.Commit(ctx, l, c, st, tm)
	if err == nil && s.onCommit != nil {
		s.onCommit()
	}
	return first, err
}

func testCrashBeforeCommit(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 2*pageSize+2)
	crashing := &commitStore{Store: f.Store}
	crashing.fail.Store(2)
	e := f.engine(crashing)
	for range 2 {
		if _, err := e.PollOnce(context.Background(), a.Provider, a.ID); !errors.Is(err, errCrash) {
			t.Fatalf("poll: %v, want the simulated crash", err)
		}
	}
	if c := f.cursor(a); c.Synced || c.Page != "" {
		t.Fatalf("cursor moved although no commit succeeded: %+v", c)
	}
	// The first page was published twice already; the restarted walk
	// publishes it a third time. Consumers see each event once.
	f.poll(f.engine(nil), a)
	checkFullSync(t, h.Truth(t, a), f.JS.ReadAll(t))
}

// interrupt stops the account's first walk after its first committed page,
// as SIGTERM would (the page already sent by then is finished too), and
// checks it left a page to resume from.
func (f *fixture) interrupt(a pollers.Account) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := f.engine(&commitStore{Store: f.Store, onCommit: cancel}).PollOnce(ctx, a.Provider, a.ID)
	if err != nil || st.Completed || st.Pages != 2 {
		// The page sent while the first was committed is in hand
		// when the walk stops: it is committed too.
		f.t.Fatalf("interrupted walk: %+v, %v; want 2 of 3 pages committed, not completed", st, err)
	}
	if c := f.cursor(a); c.Page == "" {
		f.t.Fatalf("cursor after one page: %+v; want a page to resume from", c)
	}
}

func testResumeMidWalk(t *testing.T, h Harness) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 3*pageSize)
	f.interrupt(a)
	before := h.Requests(t, a)
	st := f.poll(f.engine(nil), a)
	if st.Threads > 2*pageSize {
		t.Fatalf("resumed walk listed %d threads of %d: it started over", st.Threads, 3*pageSize)
	}
	if after := h.Requests(t, a); after.List-before.List != st.Pages {
		t.Fatalf("resumed walk made %d list requests for %d pages", after.List-before.List, st.Pages)
	}
	checkFullSync(t, h.Truth(t, a), f.JS.ReadAll(t))
}

// refusedTokenFixture is a fixture of one account with three pages of
// threads, and the hook that makes the API refuse the next page token;
// it skips providers whose clients read their tokens themselves.
func refusedTokenFixture(t *testing.T, h Harness) (*fixture, pollers.Account, func()) {
	refuse := h.Hooks().RefuseToken
	if refuse == nil {
		t.Skip("the provider's client reads its page tokens itself: the API refuses none")
	}
	f := newFixture(t, h, 1)
	a := f.accts[0]
	f.seed(a, 3*pageSize)
	return f, a, func() { refuse(t, a) }
}

// testRefusedTokenRestartsTheWalk: the API refuses the page token an
// interrupted walk stopped at (ErrTokenExpired); the walk starts over and
// loses nothing.
func testRefusedTokenRestartsTheWalk(t *testing.T, h Harness) {
	f, a, refuse := refusedTokenFixture(t, h)
	f.interrupt(a)
	refuse()
	before := h.Requests(t, a)
	st := f.poll(f.engine(nil), a)
	if st.Threads != 3*pageSize {
		t.Fatalf("walk after a refused token listed %d threads of %d: it did not start over", st.Threads, 3*pageSize)
	}
	if after := h.Requests(t, a); after.List-before.List != st.Pages+1 {
		t.Fatalf("walk made %d list requests for %d pages and the refused one", after.List-before.List, st.Pages)
	}
	checkFullSync(t, h.Truth(t, a), f.JS.ReadAll(t))
}

// testTokenRefusedMidWalk: the API stops accepting the walk's page token
// while the walk runs (the token expired between two pages); the walk
// starts over within the same poll, completes, and loses nothing.
func testTokenRefusedMidWalk(t *testing.T, h Harness) {
	f, a, refuse := refusedTokenFixture(t, h)
	f.watch(a).After(1, refuse)
	st := f.poll(f.engine(nil), a)
	if !st.Completed || st.Threads <= 3*pageSize {
		t.Fatalf("poll with a token refused mid-walk: completed %v, %d threads listed (want the first page twice)", st.Completed, st.Threads)
	}
	checkFullSync(t, h.Truth(t, a), f.JS.ReadAll(t))
}

// move changes the thread list in the middle of a walk, as the other side
// or the owner would, and returns the threads it changed. listed are the
// threads the walk listed so far.
type move struct {
	name string
	// early moves once the first page is listed, before its messages are
	// read; otherwise right before the second page is asked for.
	early bool
	act   func(t *testing.T, h Harness, a pollers.Account, listed []string) (touched []string)
}

var moves = []move{
	{"listed thread written", true, func(t *testing.T, h Harness, a pollers.Account, listed []string) []string {
		h.AddMessage(t, a, listed[0], events.Inbound, "still there?")
		return listed[:1]
	}},
	{"listed thread answered", false, func(t *testing.T, h Harness, a pollers.Account, listed []string) []string {
		th := listed[len(listed)-1]
		h.AddMessage(t, a, th, events.Outbound, "sure")
		return []string{th}
	}},
	{"unlisted thread written", false, func(t *testing.T, h Harness, a pollers.Account, listed []string) []string {
		// The first of the truth's order not listed yet: the bottom of a
		// newest-first list, the next page of an oldest-first one.
		truth := h.Truth(t, a)
		i := slices.IndexFunc(truth, func(th Thread) bool { return !slices.Contains(listed, th.ID) })
		h.AddMessage(t, a, truth[i].ID, events.Inbound, "hello?")
		return []string{truth[i].ID}
	}},
	{"new thread", false, func(t *testing.T, h Harness, a pollers.Account, _ []string) []string {
		return []string{h.AddThread(t, a, "a new question")}
	}},
	{"listed thread removed", true, func(t *testing.T, h Harness, a pollers.Account, listed []string) []string {
		h.Hooks().Remove(t, a, listed[1])
		return listed[1:2]
	}},
}

// testListMovesDuringWalk: the list moves under a walk, in its first walk
// or in a later one where every thread changed. Every thread the move did
// not touch is published whole by that poll, even where the move shifted
// it (offset pagination); a page that drifted, or with offset pagination
// lists a thread twice, makes the engine walk again, and only then; the
// touched threads are up to date after the next poll; nothing is sent
// twice, and a quiet poll follows.
func testListMovesDuringWalk(t *testing.T, h Harness) {
	for _, later := range []bool{false, true} {
		for _, m := range moves {
			name := "initial walk/" + m.name
			if later {
				name = "later walk/" + m.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				if m.name == "listed thread removed" && h.Hooks().Remove == nil {
					t.Skip("the provider's simulator cannot take a thread out of its list")
				}
				listMoves(t, h, m, later)
			})
		}
	}
}

func listMoves(t *testing.T, h Harness, m move, later bool) {
	f := newFixture(t, h, 1)
	a := f.accts[0]
	h.Seed(t, a, 3*pageSize-1, 3)
	w := f.watch(a)
	e := f.engine(nil)
	if later {
		f.poll(e, a)
		// The episodes the changes open must begin after those announced
		// so far, for providers that keep whole seconds.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		for _, th := range h.Truth(t, a) {
			h.AddMessage(t, a, th.ID, events.Outbound, "update")
		}
	}
	base, mark := len(f.JS.ReadAll(t)), len(w.Lists())
	var touched []string
	movedAt := -1 // the first list after the move
	act := func() {
		touched, movedAt = m.act(t, h, a, w.Listed(mark)), len(w.Lists())
	}
	if m.early {
		w.After(1, act)
	} else {
		w.Before(2, act)
	}
	st := f.poll(e, a)
	if movedAt < 0 {
		t.Fatalf("the walk never asked for a second page: %+v", st)
	}
	got := f.JS.ReadAll(t)
	if st.Events != len(got)-base {
		t.Fatalf("the walk sent %d events for %d new ones", st.Events, len(got)-base)
	}
	truth := h.Truth(t, a)
	var whole []Thread // what the poll must have published in full
	relisted := w.Listed(movedAt)
	for _, th := range truth {
		if !slices.Contains(touched, th.ID) || slices.Contains(relisted, th.ID) {
			whole = append(whole, th)
		}
	}
	checkThreads(t, whole, got)
	if st.Walk == pollers.WalkIncremental && m.name == "listed thread written" && !slices.Contains(relisted, touched[0]) {
		// Incremental lists are in update order: the thread comes again.
		t.Fatalf("the incremental walk did not list the moved thread %s again: %v", touched[0], relisted)
	}
	offset := h.Features().OffsetPagination
	walks := w.Walks(mark)
	if st.Rescans != len(walks)-1 {
		t.Fatalf("%d rescans in %d walks", st.Rescans, len(walks))
	}
	for i, wk := range walks {
		if Drifted(wk, offset) != (i < len(walks)-1) {
			t.Fatalf("walk %d of %d drifted %v (offset pagination %v): the engine walks again after a walk that drifted, and only then", i+1, len(walks), Drifted(wk, offset), offset)
		}
	}

	// The next poll brings the touched threads up to date, and only them.
	st = f.poll(e, a)
	all := f.JS.ReadAll(t)
	if st.Events != len(all)-len(got) {
		t.Fatalf("the next walk sent %d events for %d new ones", st.Events, len(all)-len(got))
	}
	for _, r := range all[len(got):] {
		if !slices.Contains(touched, r.Envelope.Subject) {
			t.Fatalf("the next walk published %s of untouched thread %s", r.Envelope.Type, r.Envelope.Subject)
		}
	}
	counts(t, all)
	checkThreads(t, truth, all)
	for _, id := range touched {
		if !slices.ContainsFunc(truth, func(th Thread) bool { return th.ID == id }) && created(all, id) != 1 {
			t.Fatalf("removed thread %s, listed before it went, created %d times", id, created(all, id))
		}
	}
	if st := f.poll(e, a); st.Events != 0 || st.Fetches != 0 || st.Rescans != 0 {
		t.Fatalf("quiet poll: %+v", st)
	}
}

// created counts the ThreadCreated of a thread.
func created(got []eventstest.Received, thread string) int {
	n := 0
	for _, r := range got {
		if r.Envelope.Subject == thread && r.Envelope.Type == events.ThreadCreated {
			n++
		}
	}
	return n
}
