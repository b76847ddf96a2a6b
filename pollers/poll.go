package pollers

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// poll runs one walk of the account's thread list, page by page, committing
// each page before asking for the next. When ctx is cancelled it finishes the
// page in hand, commits it and returns, leaving the cursor on the next page.
func (r *runner) poll(ctx context.Context) (st Stats, err error) {
	defer r.afterPoll()
	r.mu.Lock()
	defer r.mu.Unlock()
	work, cancel := drainContext(ctx, r.cfg.ShutdownTimeout)
	defer cancel()
	work, span := r.tel.startPoll(work, r.acct)
	before, began := r.requests.Load(), time.Now()
	defer func() {
		err = redact(err, r.acct.Token)
		st.Requests = int(r.requests.Load() - before)
		r.tel.endPoll(work, span, r.acct, st, began, err)
	}()

	lease, err := r.cfg.Store.Acquire(work, r.ck, r.cfg.LeaseTTL)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseHeld) {
			r.setLease(checkpoint.Lease{})
			r.same.drop() // of no use until the lease comes back, anew
			return st, ErrStandby
		}
		if errors.Is(err, checkpoint.ErrPaused) {
			// Paused while this worker held the account: let it go, so
			// that it shows no holder and resuming finds it free.
			r.releaseLocked()
			return st, err
		}
		return st, storeErr(err)
	}
	// The cursor came with the lease; a reset about to run changes it.
	r.leaseCursor, lease.Cursor = lease.Cursor, nil
	defer func() { r.leaseCursor = nil }()
	if lease.Reset != nil {
		r.leaseCursor = nil
	}
	r.setLease(lease)
	if lease.Reset != nil || lease.Unfinished || lease.Backfill {
		// Someone else writes, or wrote, the account's states.
		r.same.drop()
	}
	if !r.healthLoaded && !lease.Failing {
		// No run of failures recorded: nothing to read back.
		r.healthLoaded = true
	}
	if lease.Reset != nil {
		if err := r.reset(work, lease, *lease.Reset); err != nil {
			return st, err
		}
	}
	if lease.Unfinished && !r.rec.inherit {
		r.rec.inherit, r.rec.taken = true, lease.PrevTaken
		r.log.Info("the account's previous holder left without releasing it; the next walk ends the episodes its last pages may have announced")
	}
	r.timerAt(lease.NextTimer)
	r.pollBegan(began)
	var walkBegan time.Time
	defer func() { r.pollEnded(walkBegan, st, err) }()
	// A page can take longer than the lease lives (a provider asking the
	// account to wait, again and again); the lease is kept while the poll
	// works, so that no other worker takes the account and sends requests
	// beside this one. Lost anyway, the poll stops.
	work, lost := context.WithCancelCause(work)
	defer r.keepLease(work, lease, lost)()
	defer func() {
		if errors.Is(context.Cause(work), checkpoint.ErrLeaseLost) {
			err = context.Cause(work)
		}
	}()
	for {
		drift, err := r.walk(ctx, work, &st, &walkBegan)
		if err != nil {
			r.same.drop()
		}
		if err == nil && st.Completed {
			r.memo.clear()
			if !drift {
				r.marked(work, walkBegan)
			}
		}
		if drift {
			// A walk over a list that moved may have skipped a thread:
			// it decides no reply deadline.
			walkBegan = time.Time{}
		}
		if err != nil || !drift || ctx.Err() != nil {
			return st, err
		}
		// Threads moved while an offset-paginated walk was under way, so
		// one may have been skipped: walk again while they sit still.
		if st.Rescans == maxRescans {
			r.log.Warn("thread list kept moving during walks; the next poll walks it again", "rescans", st.Rescans)
			return st, nil
		}
		st.Rescans++
	}
}

// keepLease extends the lease every third of its lifetime until the
// returned function is called; lost is called with ErrLeaseLost when
// another worker has it.
func (r *runner) keepLease(ctx context.Context, lease checkpoint.Lease, lost context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(max(lease.TTL/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			err := r.cfg.Store.Extend(ctx, lease)
			if errors.Is(err, checkpoint.ErrLeaseLost) {
				lost(err)
				return
			}
			// Redis unreachable: the commit will say so; keep trying.
		}
	}()
	return func() { close(done); <-finished }
}

// initialSync is what the account's first walk publishes: the accounts
// file's choice, unless a reset asked for another.
func (r *runner) initialSync(cur checkpoint.Cursor) InitialSync {
	if cur.InitialSync != "" {
		return InitialSync(cur.InitialSync)
	}
	return r.acct.InitialSync
}

// reset carries out an operator's reset under the lease just taken: the
// account's state goes, and so does what the runner keeps of it; the walk
// that follows is the account's first. A request carried out already (by
// this worker or the one before) is not carried out again.
func (r *runner) reset(ctx context.Context, lease checkpoint.Lease, req checkpoint.ResetRequest) error {
	done, err := r.cfg.Store.Reset(ctx, lease, req)
	if err != nil {
		return storeErr(err)
	}
	if !done {
		return nil
	}
	r.log.Warn("account reset: its state is gone and its next walk is its first", "initial_sync", req.InitialSync, "by", req.By)
	r.memo.clear()
	r.same.drop()
	r.rec = recovery{}
	r.slaMu.Lock()
	r.sla.open, r.sla.next = 0, time.Time{}
	clear(r.sla.unsent)
	r.sla.gen++
	r.timers.set(r, time.Time{})
	r.slaMu.Unlock()
	return nil
}

// maxRescans bounds the extra walks one poll makes when the list moves.
const maxRescans = 2

// walk runs or resumes one walk of the thread list. It reports drift when
// the provider's offset pagination may have skipped a thread that moved.
// began is set to when the walk began once it completes.
func (r *runner) walk(ctx, work context.Context, st *Stats, began *time.Time) (drift bool, err error) {
	var cur checkpoint.Cursor
	if r.leaseCursor != nil {
		cur, r.leaseCursor = *r.leaseCursor, nil
	} else if cur, err = r.cfg.Store.Cursor(work, r.ck); err != nil {
		return false, storeErr(err)
	}
	if cur, err = r.checkMark(work, cur); err != nil {
		return false, err
	}
	r.same.valid(r.lease.Token, cur.Committed)
	r.episodes(cur.Open, episodeCounts{})
	r.rec.walking(cur, time.Now(), r.cfg.DuplicateWindow)
	if !cur.InWalk() {
		cur.Walk = int(r.nextWalk(cur))
		cur.High = cur.Since
		cur.Started = time.Now()
	}
	walkStarted := cur.Started
	st.Walk = Walk(cur.Walk)
	st.Completed = false
	silent := st.Walk == WalkInitial && r.initialSync(cur) == SyncFromNow
	q := Query{Token: cur.Page, Walk: st.Walk}
	if st.Walk == WalkIncremental && !cur.Since.IsZero() {
		q.Since = cur.Since.Add(-r.overlap)
	}
	page, err := r.list(r.pageContext(work), q)
	if errors.Is(err, ErrTokenExpired) && q.Token != "" {
		// The walk cannot continue where it stopped; start it again.
		// Threads already committed are unchanged and yield nothing.
		r.log.Info("page token no longer accepted; restarting the walk", "walk", st.Walk)
		q.Token, q.State = "", ""
		page, err = r.list(r.pageContext(work), q)
	}
	// Offset pagination: a thread listed twice in one walk moved, and the
	// move shifted others, possibly past the walk. Walks resumed after a
	// restart cannot tell.
	var seen map[uint64]struct{}
	if r.features.OffsetPagination {
		seen = make(map[uint64]struct{})
	}
	// A provider that hands out a page token twice, or never stops, would
	// keep the walk going for ever.
	tokens := map[string]struct{}{q.Token: {}}
	pages := 0
	// held is an idle page whose commit the next page's carries.
	var held *sentPage
	restarted := false
	// Two pages are in flight at most: while page N's acknowledgements are
	// awaited, page N+1 is fetched, diffed and sent. Commits stay in page
	// order and each waits for its own page's acknowledgements, so the
	// cursor never passes an event JetStream has not stored.
	var inflight *sentPage
	defer func() {
		// Whatever stopped the walk, a page already sent is committed
		// once acknowledged: it is work done.
		if cerr := r.settle(work, &inflight, st); err == nil {
			err = cerr
		}
	}()
	for {
		if err != nil {
			return drift, fmt.Errorf("account %s: list threads: %w", r.acct, err)
		}
		if page.Drift {
			drift = true
		}
		if page.Next != "" {
			if _, again := tokens[page.Next]; again {
				return drift, fmt.Errorf("account %s: list threads: %w: page token %.40q repeats within one walk (a pagination loop)", r.acct, ErrMalformed, page.Next)
			}
			tokens[page.Next] = struct{}{}
		}
		if pages++; pages > r.cfg.MaxPages {
			return drift, fmt.Errorf("account %s: list threads: %w: more than %d pages in one walk (an endless next?)", r.acct, ErrMalformed, r.cfg.MaxPages)
		}
		if seen != nil {
			see := func(id uint64) {
				if _, dup := seen[id]; dup {
					drift = true
				}
				seen[id] = struct{}{}
			}
			if page.same != nil {
				for _, id := range page.same.ids {
					see(id)
				}
			}
			for i := range page.Items {
				see(maphash.String(idSeed, page.Items[i].Thread.ID))
			}
		}
		// The next page is fetched once this one's messages are in (at
		// once when the list carried them all), so the account still has
		// one request in flight at a time.
		var next *prefetch
		if page.Next != "" && ctx.Err() == nil {
			q.Token, q.State = page.Next, page.State
			next = r.prefetch(work, q)
		}
		sent, err := r.page(work, &cur, &page, inflight, silent, st, next.start)
		if err != nil {
			next.discard()
			return drift, err
		}
		if err := r.settle(work, &inflight, st); err != nil {
			next.discard()
			return drift, err
		}
		if held != nil {
			sent.covers, held = held.covers+1, nil
		}
		if sent.idle() && page.Next != "" && sent.covers < maxDeferred {
			// Nothing to store but a cursor, and the next page's
			// commit stores a later one. Lost in a crash, the page
			// is read again: it yields nothing then either.
			held = sent
		} else {
			inflight = sent
		}
		if page.Next == "" {
			if err := r.settle(work, &inflight, st); err != nil {
				return drift, err
			}
			st.Completed, *began = true, walkStarted
			return drift, nil
		}
		if ctx.Err() != nil {
			next.discard()
			if held != nil {
				inflight, held = held, nil // committed as the walk returns
			}
			r.log.Info("stopping mid-walk; the walk resumes after the last committed page")
			return false, nil
		}
		page, err = next.wait()
		if errors.Is(err, ErrTokenExpired) && !restarted {
			// The provider stopped accepting the walk's tokens while it
			// ran (a token that expires): walk again from the start,
			// once per poll. The pages committed so far yield nothing
			// the second time.
			r.log.Info("page token no longer accepted mid-walk; restarting the walk", "walk", st.Walk)
			restarted = true
			held = nil
			if err := r.settle(work, &inflight, st); err != nil {
				return drift, err
			}
			q.Token, q.State = "", ""
			tokens = map[string]struct{}{"": {}}
			page, err = r.list(r.pageContext(work), q)
		}
	}
}

// sentPage is a page whose events are sent and whose commit awaits their
// acknowledgement.
type sentPage struct {
	ack *events.Pending
	// sent is when the events went out; msgTimes are the provider times of
	// the messages found by a walk after the first, for the detection
	// delay.
	sent     time.Time
	msgTimes []time.Time
	events   int
	cursor   checkpoint.Cursor
	changed  map[string]*checkpoint.ThreadState
	timers   checkpoint.TimerChanges
	counts   episodeCounts
	// covers counts the idle pages before this one whose commit this
	// one's carries (walk).
	covers int
}

// idle: the page sent nothing and changed nothing; only its cursor is
// left to commit.
func (p *sentPage) idle() bool {
	return p.events == 0 && len(p.changed) == 0 && len(p.timers.Set) == 0 && len(p.timers.Cancel) == 0
}

// maxDeferred bounds the idle pages in a row left uncommitted, so that a
// walk of many unchanged pages is still checkpointed as it goes.
const maxDeferred = 16

// settle waits for the page in flight, if any, and commits it.
func (r *runner) settle(ctx context.Context, inflight **sentPage, st *Stats) error {
	p := *inflight
	if p == nil {
		return nil
	}
	*inflight = nil
	if err := p.ack.Wait(ctx); err != nil {
		return fmt.Errorf("account %s: %w", r.acct, err)
	}
	r.tel.acked(r.acct.Provider, p.sent, p.msgTimes)
	st.Events += p.events
	cctx, span := r.tel.startCommit(ctx)
	first, err := r.cfg.Store.Commit(cctx, r.lease, p.cursor, p.changed, p.timers)
	endSpan(span, err)
	if err != nil {
		return storeErr(err)
	}
	r.same.committed(p.cursor.Committed)
	r.memo.forget(p.changed)
	r.rec.committed(p.changed)
	r.leaseKept()
	r.committed(p.changed)
	r.timerAt(first)
	r.episodes(p.cursor.Open, p.counts)
	st.Pages += 1 + p.covers
	return nil
}

// pageContext gives one page's requests their retry deadline.
func (r *runner) pageContext(ctx context.Context) context.Context {
	return withPageDeadline(ctx, r.cfg.Retry.PageDeadline)
}

// prefetch is a page fetch that starts when told to.
type prefetch struct {
	once  sync.Once
	begin chan struct{}
	done  chan struct{}
	skip  bool // set before begin closes: the fetch is not needed
	page  Page
	err   error
}

func (r *runner) prefetch(ctx context.Context, q Query) *prefetch {
	p := &prefetch{begin: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		<-p.begin
		if !p.skip {
			p.page, p.err = r.list(r.pageContext(ctx), q)
		}
	}()
	return p
}

// start lets the fetch begin; safe on nil and more than once.
func (p *prefetch) start() {
	if p != nil {
		p.once.Do(func() { close(p.begin) })
	}
}

// discard drops a fetch not started yet and waits for one under way.
func (p *prefetch) discard() {
	if p == nil {
		return
	}
	p.once.Do(func() { p.skip = true; close(p.begin) })
	<-p.done
}

// wait starts the fetch if needed and returns its result.
func (p *prefetch) wait() (Page, error) {
	if p == nil {
		return Page{}, nil
	}
	p.start()
	<-p.done
	return p.page, p.err
}

// nextWalk decides what kind of walk starts now.
func (r *runner) nextWalk(cur checkpoint.Cursor) Walk {
	switch {
	case !cur.Synced:
		return WalkInitial
	case !r.features.IncrementalList:
		return WalkSweep
	case r.cfg.SweepInterval > 0 && time.Since(cur.LastSweep) >= r.cfg.SweepInterval:
		return WalkSweep
	}
	return WalkIncremental
}

// page diffs one page against the stored states (and those of the page
// still in flight), sends its events, and returns it ready to commit with
// the cursor advanced past it.
func (r *runner) page(ctx context.Context, cur *checkpoint.Cursor, page *Page, inflight *sentPage, silent bool, st *Stats, derived func()) (_ *sentPage, err error) {
	ctx, span := r.tel.startPage(ctx, st.Pages+1)
	defer func() { endSpan(span, err) }()
	fetchCtx := r.pageContext(ctx)
	// With no message fetch to come for this page, the next page's
	// request may go now, while this one is diffed and sent. A list that
	// carried every thread's messages in full tells before the stored
	// states do.
	if page.same != nil || r.fetchesNone(page.Items, nil, silent) {
		derived()
	}
	var items []Item
	var prevs []*checkpoint.ThreadState
	if page.same == nil {
		if items, prevs, err = r.stored(ctx, page.Items); err != nil {
			return nil, err
		}
	}
	room := 0
	for i := range items {
		it := &items[i]
		if inflight != nil {
			// A thread that moved on between two pages of one walk: the
			// state the uncommitted page gives it is the newer one.
			if p, ok := inflight.changed[it.Thread.ID]; ok {
				prevs[i] = p
			}
		}
		if prev := prevs[i]; prev == nil || !prev.SameVersion(it.Version) {
			room += len(it.Messages) + eventsBeyondMessages
		}
	}
	if r.fetchesNone(items, prevs, silent) {
		derived()
	}
	// Room for the events of the page's changed threads; derive writes
	// them in place (appendDerived).
	var evs []events.Event
	if room > 0 {
		evs = make([]events.Event, 0, room)
	}
	changed := make(map[string]*checkpoint.ThreadState, len(items))
	var timers checkpoint.TimerChanges
	var counts episodeCounts
	open := cur.Open
	now := time.Now()
	var pageHigh time.Time // the newest update the page lists
	if page.same != nil {
		pageHigh = page.same.high
	}
	for i := range items {
		it := &items[i]
		if it.UpdatedAt.After(pageHigh) {
			pageHigh = it.UpdatedAt
		}
		prev := prevs[i]
		if prev != nil && prev.SameVersion(it.Version) {
			continue
		}
		msgs, err := r.messages(fetchCtx, it, prev, silent, st)
		if errors.Is(err, ErrThreadGone) {
			r.log.Debug("thread listed without messages; asking again next poll", "thread", it.Thread.ID, "error", err)
			gone := *it
			gone.Version = versionGone + it.Version
			it, msgs, err = &gone, []events.Message{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("account %s: thread %s: messages: %w", r.acct, it.Thread.ID, err)
		}
		evs = slices.Grow(evs, len(msgs)+eventsBeyondMessages)
		d := derive(deriveInput{
			origin: r.origin, item: it, prev: prev, msgs: msgs,
			silent: silent, stated: r.features.ReplyNeededStated,
			policy: r.acct.SLA, now: now, recover: r.rec.hint(it.Thread.ID),
			events: evs,
		})
		if !cur.SilentBefore.IsZero() && Walk(cur.Walk) == WalkInitial {
			beforeMark(&d, cur.SilentBefore)
		}
		evs = appendDerived(evs, &d)
		if silent && prev == nil {
			// Recorded, not published: a backfill may publish it later.
			d.state.Skipped = &checkpoint.Skipped{MsgAt: d.state.MsgAt, MsgIDs: slices.Clone(d.state.MsgIDs)}
		}
		changed[it.Thread.ID] = &d.state
		if d.cancel {
			timers.Cancel = append(timers.Cancel, it.Thread.ID)
		}
		timers.Set = append(timers.Set, d.timers...)
		open += d.open
		counts.add(d.events)
	}
	st.Threads += len(items)
	st.Changed += len(changed)
	switch {
	case page.same != nil:
		st.Threads += page.same.threads
		st.Same++
	case len(changed) == 0:
		r.remember(page, pageHigh, len(items))
	default:
		// States are changing: what was remembered under the old ones
		// no longer holds.
		r.same.drop()
	}
	derived()

	high := cur.High
	if pageHigh.After(high) {
		high = pageHigh
	}

	next := *cur
	next.High = high
	next.Committed = now
	next.Open = max(open, 0)
	next.Recover = r.rec.bound()
	if page.Next == "" {
		// The next walk starts no later than this one did: a thread this
		// walk passed before it changed may sort before threads that
		// changed later, so the newest time seen is not a safe watermark.
		since := high
		if !cur.Started.IsZero() && cur.Started.Before(since) {
			since = cur.Started
		}
		if since.Before(cur.Since) {
			since = cur.Since
		}
		next.Since, next.Page, next.Synced = since, "", true
		next.SilentBefore = time.Time{}
		if Walk(cur.Walk) != WalkIncremental {
			next.LastSweep = time.Now()
		}
	} else {
		next.Page = page.Next
	}
	*cur = next
	r.sending(changed)
	var msgTimes []time.Time
	if Walk(cur.Walk) != WalkInitial {
		for i := range evs {
			if evs[i].Type == events.MessageReceived {
				msgTimes = append(msgTimes, evs[i].Time)
			}
		}
	}
	return &sentPage{ack: r.cfg.Publisher.Send(ctx, evs), sent: time.Now(), msgTimes: msgTimes,
		events: len(evs), cursor: next, changed: changed, timers: timers, counts: counts}, nil
}

// versionGone prefixes the stored version of a thread whose messages were
// gone (ErrThreadGone): no version a list states starts with a NUL, so the
// next poll that lists the thread fetches its messages again.
const versionGone = "\x00gone:"

// messages returns the messages of a new or changed thread: those the list
// already carried when they reach back to what was seen, otherwise fetched.
func (r *runner) messages(ctx context.Context, it *Item, prev *checkpoint.ThreadState, silent bool, st *Stats) ([]events.Message, error) {
	if listedComplete(it, prev) {
		return it.Messages, nil
	}
	if r.listOnly(it, silent) {
		return nil, nil
	}
	after := MessageCursor{}
	if prev != nil {
		after = MessageCursor{ID: prev.LastMsgID, At: prev.MsgAt}
	}
	// A fetch made for this page by an attempt that failed later is
	// still right while the thread's version has not moved.
	key := keyOf(it, after)
	if msgs, ok := r.memo.get(key); ok {
		st.Reused++
		return msgs, nil
	}
	st.Fetches++
	msgs, err := r.provider.Messages(ctx, it, after)
	if err == nil {
		r.memo.put(key, msgs)
	}
	return msgs, err
}

// fetchesNone reports whether page fetches no messages for items, given
// their stored states (nil while unknown: any may be new or changed).
func (r *runner) fetchesNone(items []Item, prevs []*checkpoint.ThreadState, silent bool) bool {
	for i := range items {
		var prev *checkpoint.ThreadState
		if prevs != nil {
			if prev = prevs[i]; prev != nil && prev.SameVersion(items[i].Version) {
				continue // unchanged
			}
		}
		if !r.listedEnough(&items[i], prev, silent) {
			return false
		}
	}
	return true
}

// listedEnough reports whether messages fetches nothing for it.
func (r *runner) listedEnough(it *Item, prev *checkpoint.ThreadState, silent bool) bool {
	return listedComplete(it, prev) || r.listOnly(it, silent)
}

// listedComplete: the messages the list carried reach back to what was
// seen.
func listedComplete(it *Item, prev *checkpoint.ThreadState) bool {
	return it.Messages != nil && (it.MessagesComplete ||
		(prev != nil && len(it.Messages) > 0 && !it.Messages[0].CreatedAt.After(prev.MsgAt)))
}

// listOnly: recording silently, the list's last-message time is enough
// where the provider also states reply-needed.
func (r *runner) listOnly(it *Item, silent bool) bool {
	return silent && r.features.ReplyNeededStated && !it.LastMessageAt.IsZero()
}

// stored returns a page's items, each thread once, and their stored states
// (nil for a thread never seen), in one round trip.
func (r *runner) stored(ctx context.Context, listed []Item) ([]Item, []*checkpoint.ThreadState, error) {
	items := dedupe(listed)
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].Thread.ID
	}
	states, err := r.cfg.Store.Threads(ctx, r.ck, ids)
	if err != nil {
		return nil, nil, storeErr(err)
	}
	return items, states, nil
}

// dedupe keeps the last occurrence of each thread in a page, should the
// provider list one twice. A page without repeats is returned as it is.
func dedupe(items []Item) []Item {
	seen := make(map[string]int, len(items))
	for i := range items {
		seen[items[i].Thread.ID] = i
	}
	if len(seen) == len(items) {
		return items
	}
	clear(seen)
	out := items[:0:0]
	for _, it := range items {
		if i, ok := seen[it.Thread.ID]; ok {
			out[i] = it
			continue
		}
		seen[it.Thread.ID] = len(out)
		out = append(out, it)
	}
	return out
}

// eventsBeyondMessages is room for the events a changed thread yields
// besides its messages': ThreadCreated and ReplyNeeded for a new one, a
// ReplyResolved with the warning and breach it came after, and so on. More
// is fine, only slower (derive then writes them apart).
const eventsBeyondMessages = 4
