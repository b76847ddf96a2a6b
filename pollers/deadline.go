package pollers

import (
	"context"
	"errors"
	"fmt"
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

// deadlines is what a runner knows of its account's timers and polls.
type deadlines struct {
	wake     time.Time // when timers next need firing; zero: none known
	lastTry  time.Time // when the last poll began
	lastGood time.Time // when the last poll that walked the whole list began
	open     int       // open announced episodes, as of the last commit
	next     time.Time // the earliest deadline of an open episode, for /status
}

// timerAt takes in the account's earliest timer, as a commit or the lease
// reported it.
func (r *runner) timerAt(first time.Time) {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	r.sla.next = first
	if first.IsZero() {
		r.sla.wake = time.Time{}
		return
	}
	if r.sla.wake.IsZero() || first.Before(r.sla.wake) {
		r.sla.wake = first
	}
}

// episodes records the account's open episodes after a commit and counts
// the page's reply events.
func (r *runner) episodes(open int, c episodeCounts) {
	r.slaMu.Lock()
	r.sla.open = open
	r.slaMu.Unlock()
	r.tel.episodes(r.acct.Provider, c)
}

// timersDue reports whether timers need firing by now.
func (r *runner) timersDue(now time.Time) bool {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	return !r.sla.wake.IsZero() && !now.Before(r.sla.wake)
}

// slaWake is when the loop must wake for timers; zero for never.
func (r *runner) slaWake() time.Time {
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	return r.sla.wake
}

// pollBegan and pollEnded track the polls a breach is decided from.
func (r *runner) pollBegan(t time.Time) {
	r.slaMu.Lock()
	r.sla.lastTry = t
	r.slaMu.Unlock()
}

func (r *runner) pollEnded(began time.Time, st Stats, err error) {
	if err != nil || !st.Completed {
		return
	}
	r.slaMu.Lock()
	r.sla.lastGood = began
	r.slaMu.Unlock()
}

// fireTimers publishes the warnings and breaches that are due and removes
// their timers, fenced by the lease. A breach is decided by a poll that
// began at or after its deadline, so an answer written in time but seen
// late resolves the episode instead; needPoll asks for that poll. When
// polls keep failing, the breach goes out unconfirmed once the grace
// period after the deadline has passed.
func (r *runner) fireTimers(ctx context.Context) (needPoll bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease.Token == "" {
		r.timerAt(time.Time{})
		return false, nil
	}
	// The lease may have lapsed since the last poll (an interval longer
	// than its lifetime): take it again, or learn that another worker
	// has the account now.
	lease, err := r.cfg.Store.Acquire(ctx, r.ck, r.cfg.LeaseTTL)
	if errors.Is(err, checkpoint.ErrLeaseHeld) {
		r.lease = checkpoint.Lease{}
		r.timerAt(time.Time{})
		return false, nil
	}
	if err != nil {
		return false, r.retryTimers(storeErr(err))
	}
	r.lease = lease
	now := time.Now()
	due, err := r.cfg.Store.DueTimers(ctx, r.ck, now, timerBatch)
	if err != nil {
		return false, r.retryTimers(storeErr(err))
	}
	r.slaMu.Lock()
	lastTry, lastGood := r.sla.lastTry, r.sla.lastGood
	r.slaMu.Unlock()
	var (
		evs   []events.Event
		fired []checkpoint.Timer
		hold  time.Time // the earliest grace period a deferred breach waits out
		c     episodeCounts
		// The states that record what fired; a thread with both timers
		// due is read twice, and its first copy records both.
		states = map[string]*checkpoint.ThreadState{}
	)
	for _, t := range due {
		st := t.State
		if s, ok := states[t.Thread]; ok {
			st = s
		}
		if !st.Open() || st.DueAt.IsZero() {
			// The episode ended in a commit that raced nothing (commits
			// cancel timers atomically); a timer left over is dropped.
			fired = append(fired, t.Timer)
			continue
		}
		s := episodeSLA(st)
		switch t.Kind {
		case checkpoint.Warning:
			if !st.Warned {
				evs = append(evs, events.NewReplySLAWarning(r.origin, t.Thread, st.ReplySince, s))
				st.Warned, states[t.Thread] = true, st
			}
			fired = append(fired, t.Timer)
		case checkpoint.Breach:
			grace := s.DueAt.Add(r.cfg.SLAGrace)
			switch {
			case st.Breached:
				fired = append(fired, t.Timer)
			case !lastGood.Before(s.DueAt):
				evs = append(evs, events.NewReplySLABreached(r.origin, t.Thread, st.ReplySince, s, true))
				st.Breached, states[t.Thread] = true, st
				fired = append(fired, t.Timer)
			case !now.Before(grace):
				evs = append(evs, events.NewReplySLABreached(r.origin, t.Thread, st.ReplySince, s, false))
				st.Breached, states[t.Thread] = true, st
				fired = append(fired, t.Timer)
			default:
				if lastTry.Before(s.DueAt) {
					needPoll = true
				}
				if hold.IsZero() || grace.Before(hold) {
					hold = grace
				}
			}
		default:
			fired = append(fired, t.Timer)
		}
	}
	if len(evs) > 0 {
		if err := r.cfg.Publisher.Send(evs).Wait(ctx); err != nil {
			return false, r.retryTimers(fmt.Errorf("account %s: SLA events: %w", r.acct, err))
		}
		c.add(evs)
	}
	next, err := r.cfg.Store.DoneTimers(ctx, r.lease, fired, states, now)
	if err != nil {
		if errors.Is(err, checkpoint.ErrLeaseLost) {
			r.lease = checkpoint.Lease{}
			r.timerAt(time.Time{})
			return false, err
		}
		return false, r.retryTimers(storeErr(err))
	}
	r.tel.episodes(r.acct.Provider, c)
	r.slaMu.Lock()
	defer r.slaMu.Unlock()
	wake := next
	if !hold.IsZero() && (wake.IsZero() || hold.Before(wake)) {
		wake = hold
	}
	if len(due) == timerBatch {
		wake = now // more are due: go on at once
	}
	r.sla.wake = wake
	if len(due) > 0 {
		r.log.Debug("SLA timers fired", "fired", len(fired), "events", len(evs), "deferred", len(due)-len(fired))
	}
	return needPoll, nil
}

// retryTimers schedules another firing soon after a failure to reach Redis
// or NATS, and returns err.
func (r *runner) retryTimers(err error) error {
	r.slaMu.Lock()
	r.sla.wake = time.Now().Add(r.cfg.MinBackoff)
	r.slaMu.Unlock()
	return err
}

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
