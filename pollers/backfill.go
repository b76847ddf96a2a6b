package pollers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// A backfill publishes the history an initial from_now walk recorded
// without publishing (ThreadState.Skipped): each such thread's
// ThreadCreated and the messages seen then, with the ids live polling
// would have given them, and no ReplyNeeded. What live polling published
// since is what the thread's state saw after the skipped part, so the two
// never overlap. It runs in the time between the account's polls, through
// the same provider client and rate budget, page by page, each page's
// events acknowledged before its commit, which clears the threads' skipped
// part and records the walk's position: a crash resumes it where it
// stopped, and a thread is never backfilled twice.

// backfillShare is how much of the poll interval a backfill may take
// before it gives the time back to live polling.
const backfillShare = 2

// backfill works on the account's backfill, if one is pending, until it
// is done, its share of the poll interval is spent, or a poll is wanted.
func (r *runner) backfill(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease.Token == "" || !r.lease.Backfill {
		return nil
	}
	job, err := r.cfg.Store.Backfill(ctx, r.ck)
	if err != nil || job == nil || !job.Done.IsZero() {
		return storeErrOrNil(err)
	}
	if job.Started.IsZero() {
		n, err := r.cfg.Store.ThreadCount(ctx, r.ck)
		if err != nil {
			return storeErr(err)
		}
		job.Started, job.Total = time.Now(), n
		r.log.Info("backfill started", "by", job.By, "since", job.Since, "threads", n)
	}
	end := time.Now().Add(r.acct.PollInterval / backfillShare)
	for ctx.Err() == nil && time.Now().Before(end) && len(r.kick) == 0 {
		done, err := r.backfillPage(ctx, job)
		if err != nil {
			job.Error = err.Error()
			return err
		}
		if done {
			break
		}
	}
	return nil
}

func storeErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return storeErr(err)
}

// backfillPage backfills one page of the thread list; done says the
// backfill is over (finished, or replaced by another).
func (r *runner) backfillPage(ctx context.Context, job *checkpoint.Backfill) (done bool, err error) {
	pctx := r.pageContext(ctx)
	q := Query{Token: job.Token, State: job.State, Walk: WalkSweep}
	page, err := r.provider.ListThreads(pctx, q)
	if errors.Is(err, ErrTokenExpired) && q.Token != "" {
		// Threads already backfilled have no skipped part left: the
		// walk starting over costs requests, not copies.
		page, err = r.provider.ListThreads(pctx, Query{Walk: WalkSweep})
	}
	if err != nil {
		return false, fmt.Errorf("account %s: backfill: list threads: %w", r.acct, redact(err, r.acct.Token))
	}
	items, states, err := r.stored(ctx, page.Items)
	if err != nil {
		return false, err
	}
	var evs []events.Event
	changed := map[string]*checkpoint.ThreadState{}
	for i := range items {
		st := states[i]
		if st == nil || st.Skipped == nil {
			continue
		}
		it := &items[i]
		msgs := it.Messages
		if !it.MessagesComplete {
			msgs, err = r.provider.Messages(pctx, it, MessageCursor{})
			if errors.Is(err, ErrThreadGone) {
				msgs, err = nil, nil
			}
			if err != nil {
				return false, fmt.Errorf("account %s: backfill: thread %s: messages: %w", r.acct, it.Thread.ID, redact(err, r.acct.Token))
			}
		}
		evs = append(evs, skippedEvents(r.origin, it.Thread, st.Skipped, msgs, job.Since)...)
		next := *st
		next.Skipped = nil
		changed[it.Thread.ID] = &next
	}
	if len(evs) > 0 {
		if err := r.cfg.Publisher.Send(ctx, evs).Wait(ctx); err != nil {
			return false, err
		}
	}
	job.Walked += int64(len(items))
	job.Threads += int64(len(changed))
	job.Events += int64(len(evs))
	job.Token, job.State, job.Error = page.Next, page.State, ""
	if page.Next == "" {
		job.Done = time.Now()
	}
	ok, err := r.cfg.Store.CommitBackfill(ctx, r.lease, *job, changed)
	if err != nil {
		return false, storeErr(err)
	}
	r.leaseKept()
	r.tel.backfilled(r.acct.Provider, len(evs))
	switch {
	case !ok:
		r.log.Info("backfill replaced by another; this one stops")
		return true, nil
	case !job.Done.IsZero():
		r.log.Info("backfill done", "threads", job.Threads, "events", job.Events, "took", job.Done.Sub(job.Started).Round(time.Millisecond))
		return true, nil
	}
	return false, nil
}

// skippedEvents are the events of the history of a thread that a from_now
// start skipped: its ThreadCreated, then the messages seen then (those the
// skipped part counts as seen), oldest first. since, when set, leaves out
// older messages, and the ThreadCreated of a thread older than since with
// no message left.
func skippedEvents(o events.Origin, th events.Thread, sk *checkpoint.Skipped, msgs []events.Message, since time.Time) []events.Event {
	if !slices.IsSortedFunc(msgs, byTime) {
		msgs = slices.Clone(msgs)
		slices.SortStableFunc(msgs, byTime)
	}
	seen := &checkpoint.ThreadState{MsgAt: sk.MsgAt, MsgIDs: sk.MsgIDs}
	var keep []events.Message
	for i := range msgs {
		m := &msgs[i]
		if unseen(seen, m) || (!since.IsZero() && m.CreatedAt.Before(since)) {
			continue
		}
		keep = append(keep, *m)
	}
	if th.CreatedAt.IsZero() && len(msgs) > 0 {
		th.CreatedAt = msgs[0].CreatedAt
	}
	evs := make([]events.Event, 0, len(keep)+1)
	if since.IsZero() || !th.CreatedAt.Before(since) || len(keep) > 0 {
		evs = append(evs, events.NewThreadCreated(o, th))
	}
	for _, m := range keep {
		evs = append(evs, events.NewMessageReceived(o, th.ID, m))
	}
	return evs
}
