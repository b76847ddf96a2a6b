package pollers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// The reply deadlines of an account live in Redis beside its thread states:
// a page's commit adds the timers of the episodes it announces and cancels
// those of the episodes it ends, atomically with the states. The worker
// holding the account's lease keeps only the time of the earliest one (from
// the lease, every commit and every firing), so waiting for deadlines costs
// nothing per account: Redis is asked only when a timer is due.

// timerBatch bounds the timers one firing reads.
const timerBatch = 500

// timerWorkers bounds the accounts whose timers fire at once.
const timerWorkers = 16

// deadlines is what a runner knows of its account's timers and polls.
type deadlines struct {
	next     time.Time // the earliest timer known to be in Redis; zero: none
	lastTry  time.Time // when the last poll began
	lastGood time.Time // when the walk of the last poll that walked the whole list began
	open     int       // open announced episodes, as of the last commit
	// unsent holds, per thread in a page sent and not yet committed, the
	// newest state such a page gives it. Commits stay in page order, so a
	// thread leaves it with the commit of the last page that changed it.
	unsent map[string]*checkpoint.ThreadState
	// gen grows with every change a firing under way cannot have seen (a
	// commit, a poll's end), so that it does not put off what those ask.
	gen uint64
}

// timerAt takes in the account's earliest timer, as a commit or the lease
// reported it, and queues the firing.
func (r *runner) timerAt(first time.Time) {
	// The queue is set under slaMu, as every setter does, so that a
	// firing ending meanwhile cannot put back a later time over this one.
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	r.sla.next = first
	r.sla.gen++
	r.timers.set(r, first)
}

// episodes records the account's open episodes after a commit and counts
// the page's reply events.
func (r *runner) episodes(open int, c episodeCounts) {
	r.slaMu.Lock()
	r.sla.open = open
	r.slaMu.Unlock()
	r.tel.episodes(r.acct.Provider, c)
}

// pollBegan and pollEnded track the polls a breach is decided from.
func (r *runner) pollBegan(t time.Time) {
	r.slaMu.Lock()
	r.sla.lastTry = t
	r.slaMu.Unlock()
}

// walkBegan is when the walk a completed poll finished began: another
// worker's, for a walk resumed from its cursor. Pages the poll sent and
// did not commit leave the account recovering (r.mu is held).
func (r *runner) pollEnded(walkBegan time.Time, st Stats, err error) {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	r.rec.left(r.sla.unsent, time.Now(), r.cfg.DuplicateWindow)
	r.sla.unsent = nil // not cleared: a map keeps its buckets, and most accounts are idle
	if err != nil || !st.Completed || walkBegan.IsZero() {
		return
	}
	if walkBegan.After(r.sla.lastGood) {
		r.sla.lastGood = walkBegan
	}
}

// sending and committed track the threads of the pages in flight.
func (r *runner) sending(changed map[string]*checkpoint.ThreadState) {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	if r.sla.unsent == nil {
		r.sla.unsent = map[string]*checkpoint.ThreadState{}
	}
	maps.Copy(r.sla.unsent, changed)
}

func (r *runner) committed(changed map[string]*checkpoint.ThreadState) {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	for id, st := range changed {
		if r.sla.unsent[id] == st {
			delete(r.sla.unsent, id)
		}
	}
}

// afterPoll fires at once the timers that fell due during a poll, once
// the poll has let go of the account.
func (r *runner) afterPoll() {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	r.sla.gen++
	if now := time.Now(); !r.sla.next.IsZero() && !r.sla.next.After(now) {
		r.timers.set(r, now)
	}
}

// fire fires the account's due timers; the timer queue calls it.
func (r *runner) fire(ctx context.Context) {
	needPoll, err := r.fireTimers(ctx)
	if err != nil && ctx.Err() == nil {
		r.log.Warn("firing reply deadlines failed; will retry", "error", err)
	}
	if needPoll {
		// A breach is decided by a poll made at its deadline.
		r.askPoll()
	}
}

// fireTimers publishes the warnings and breaches that are due and retires
// their timers, fenced by the lease. Each is decided by a poll whose walk
// began at or after its time, so an answer written in time but seen late
// resolves the episode instead; needPoll asks for that poll. When polls
// keep failing, it goes out unconfirmed, on the last state known, once the
// grace period after its time has passed. A thread whose events a poll
// under way has sent but not committed waits for that poll, up to the
// same grace period.
func (r *runner) fireTimers(ctx context.Context) (needPoll bool, err error) {
	r.fireMu.Lock()
	defer r.fireMu.Unlock()
	idle := r.mu.TryLock()
	if idle {
		defer r.mu.Unlock()
	}
	lease := r.heldLease()
	if lease.Token == "" {
		r.timerAt(time.Time{})
		return false, nil
	}
	r.slaMu.Lock()
	earliest, tried := r.sla.next, r.sla.lastTry
	if now := time.Now(); !earliest.IsZero() && !now.Before(earliest) && tried.Before(earliest) && now.Before(earliest.Add(r.cfg.SLAGrace)) {
		// Nothing due can be decided before a poll made at its time:
		// ask for one, and look again when it ends (or at the grace).
		r.timers.set(r, earliest.Add(r.cfg.SLAGrace))
		r.slaMu.Unlock()
		return true, nil
	}
	r.slaMu.Unlock()
	if idle && time.Since(time.Unix(0, r.leased.Load())) > r.cfg.LeaseTTL/3 {
		// The lease may have lapsed since the last poll (an interval
		// longer than its lifetime): take it again, or learn that
		// another worker has the account now.
		l, err := r.cfg.Store.Acquire(ctx, r.ck, r.cfg.LeaseTTL)
		if errors.Is(err, checkpoint.ErrLeaseHeld) || errors.Is(err, checkpoint.ErrPaused) {
			// Another worker's now, or paused: deadlines wait for
			// whoever polls the account next.
			r.setLease(checkpoint.Lease{})
			r.timerAt(time.Time{})
			return false, nil
		}
		if err != nil {
			return false, r.retryTimers(storeErr(err))
		}
		r.setLease(l)
		lease = l
	}
	// What the polls have done is read before the states: a poll that
	// completed by now committed everything it saw, so the states read
	// after it show it. Read the other way round, a poll finishing in
	// between would vouch for states read before its commits.
	r.slaMu.Lock()
	lastTry, lastGood, gen := r.sla.lastTry, r.sla.lastGood, r.sla.gen
	r.slaMu.Unlock()
	now := time.Now()
	due, err := r.cfg.Store.DueTimers(ctx, r.ck, now, timerBatch)
	if err != nil {
		return false, r.retryTimers(storeErr(err))
	}
	var (
		evs   []events.Event
		fired []checkpoint.DueTimer
		c     episodeCounts
		// hold is when the earliest timer held back may go anyway;
		// held, the earliest such timer.
		hold, held time.Time
		// The states that record what fired; a thread with both timers
		// due is read twice, and its first copy records both.
		states = map[string]*checkpoint.ThreadState{}
	)
	defer_ := func(at, until time.Time) {
		if hold.IsZero() || until.Before(hold) {
			hold = until
		}
		if held.IsZero() || at.Before(held) {
			held = at
		}
	}
	r.slaMu.Lock()
	inflight := maps.Clone(r.sla.unsent)
	r.slaMu.Unlock()
	for _, t := range due {
		st := t.State
		if s, ok := states[t.Thread]; ok {
			st = s
		}
		if !st.Open() || st.DueAt.IsZero() {
			// Left over by an episode that ended: nothing to say.
			fired = append(fired, t)
			continue
		}
		done := t.Kind == checkpoint.Warning && st.Warned || t.Kind == checkpoint.Breach && st.Breached
		if done || t.Kind != checkpoint.Warning && t.Kind != checkpoint.Breach {
			fired = append(fired, t)
			continue
		}
		grace := t.At.Add(r.cfg.SLAGrace)
		if _, sent := inflight[t.Thread]; sent && now.Before(grace) {
			// A poll under way has sent this thread's events and not
			// committed them yet: they may end the episode.
			defer_(t.At, grace)
			continue
		}
		var confirmed bool
		switch {
		case !lastGood.Before(t.At):
			confirmed = true
		case !now.Before(grace):
			// Polls kept failing: say what the last state known says.
		default:
			if lastTry.Before(t.At) {
				needPoll = true
			}
			defer_(t.At, grace)
			continue
		}
		s := episodeSLA(st)
		if t.Kind == checkpoint.Warning {
			evs = append(evs, events.NewReplySLAWarning(r.origin, t.Thread, st.ReplySince, s, confirmed))
			st.Warned = true
		} else {
			evs = append(evs, events.NewReplySLABreached(r.origin, t.Thread, st.ReplySince, s, confirmed))
			st.Breached = true
		}
		states[t.Thread] = st
		fired = append(fired, t)
	}
	if len(evs) > 0 {
		if err := r.cfg.Publisher.Send(ctx, evs).Wait(ctx); err != nil {
			return false, r.retryTimers(fmt.Errorf("account %s: SLA events: %w", r.acct, err))
		}
		c.add(evs)
	}
	next, err := r.cfg.Store.DoneTimers(ctx, lease, fired, states, now)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			r.timerAt(time.Time{})
			return false, err
		}
		return false, r.retryTimers(storeErr(err))
	}
	r.tel.episodes(r.acct.Provider, c)
	wake, known := next, next
	if !hold.IsZero() && (wake.IsZero() || hold.Before(wake)) {
		wake = hold
	}
	if !held.IsZero() {
		known = held
	}
	if len(due) == timerBatch {
		wake = now // more are due: go on at once
	}
	r.slaMu.Lock()
	if r.sla.gen != gen {
		// A commit or a poll's end came meanwhile: look again at once.
		wake = now
	} else {
		r.sla.next = known
	}
	r.timers.set(r, wake)
	r.slaMu.Unlock()
	if len(due) > 0 {
		r.log.Debug("reply deadlines fired", "due", len(due), "events", len(evs), "held", len(due)-len(fired))
	}
	return needPoll, nil
}

// retryTimers schedules another firing soon after a failure to reach Redis
// or NATS, and returns err.
func (r *runner) retryTimers(err error) error {
	r.slaMu.Lock()
	r.timers.set(r, time.Now().Add(r.cfg.MinBackoff))
	r.slaMu.Unlock()
	return err
}

// heldLease is the lease the account's polls last held, readable while a
// poll runs.
func (r *runner) heldLease() checkpoint.Lease {
	if l := r.held.Load(); l != nil {
		return *l
	}
	return checkpoint.Lease{}
}

// setLease records the lease; r.mu is held.
func (r *runner) setLease(l checkpoint.Lease) {
	r.lease = l
	r.held.Store(&l)
	r.leaseKept()
}

// leaseKept notes that the lease was just taken or extended (a commit
// extends it), so a firing soon after need not.
func (r *runner) leaseKept() { r.leased.Store(time.Now().UnixNano()) }

// episodeCounts counts a batch's reply events, for the metrics.
type episodeCounts struct {
	warnings, breaches int
	resolved           []*events.ReplyResolvedData
}

func (c *episodeCounts) add(evs []events.Event) {
	for i := range evs {
		switch evs[i].Type {
		case events.ReplySLAWarning:
			c.warnings++
		case events.ReplySLABreached:
			c.breaches++
		case events.ReplyResolved:
			c.resolved = append(c.resolved, evs[i].Data.(*events.ReplyResolvedData))
		}
	}
}
