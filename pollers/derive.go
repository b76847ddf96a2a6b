package pollers

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sla"
)

// deriveInput is everything derive needs to know about one changed thread.
type deriveInput struct {
	origin events.Origin
	item   *Item
	prev   *checkpoint.ThreadState // nil: the thread was never seen
	msgs   []events.Message        // may include messages already seen
	silent bool                    // record state without emitting (initial from_now)
	stated bool                    // the provider states reply-needed (Features.ReplyNeededStated)
	policy *sla.Policy             // the account's reply policy; nil for none
	now    time.Time               // when the thread was looked at
	// events, when set, is the slice the caller appends the events to:
	// derive writes them in its spare capacity, so that a page's events
	// take one array (see appendDerived).
	events []events.Event
	// recover: pages with this thread's events may have been published
	// without their commit (see recovery), so an episode that opened and
	// ended since prev may have been announced already.
	recover recoveryHint
}

// derived is what one changed thread yields.
type derived struct {
	events []events.Event
	state  checkpoint.ThreadState
	// cancel: the thread's timers go (its announced episode ended);
	// timers: those of the episode it opened.
	cancel bool
	timers []checkpoint.Timer
	// open is the change in the account's open announced episodes.
	open int
}

// derive computes the events a changed thread yields, in causal order
// (ThreadCreated, then new messages oldest first, ReplyNeeded right after
// the message that opened its episode, ReplyResolved right after the one
// that answered it), and the thread's next state. Only an episode still
// open once the new messages are taken in is announced: one that opened
// and closed between two looks needs no reply any more, which also keeps
// a full sync to one ReplyNeeded per thread awaiting a reply. An episode
// announced ends with one ReplyResolved: answered by the owner, closed, or
// (where the provider states reply-needed) no longer needed.
// derive is pure: the same input always gives the same events and ids.
func derive(in deriveInput) derived {
	var d derived
	d.events = in.events[len(in.events):]
	next := &d.state
	if in.prev != nil {
		*next = *in.prev
		next.MsgIDs = slices.Clone(in.prev.MsgIDs)
	} else {
		next.MsgIDs = []string{}
	}
	next.Version = in.item.Version
	threadID := in.item.Thread.ID
	wasOpen := in.prev.Open()

	emit := func(e events.Event) {
		if !in.silent {
			d.events = append(d.events, e)
		}
	}
	// resolve ends the episode in progress; an announced one says so.
	resolve := func(how events.Resolution, at time.Time, answer string) {
		if next.ReplySince.IsZero() {
			return
		}
		if next.Open() && !in.silent {
			d.cancel = true
			d.events = append(d.events, resolution(in, next, how, at, answer)...)
		}
		endEpisode(next)
	}
	msgs := in.msgs
	if !slices.IsSortedFunc(msgs, byTime) {
		msgs = slices.Clone(msgs)
		slices.SortStableFunc(msgs, byTime)
	}
	if in.prev == nil {
		th := in.item.Thread
		if th.CreatedAt.IsZero() && len(msgs) > 0 {
			// A list that does not say when a thread began: its first
			// message did.
			th.CreatedAt = msgs[0].CreatedAt
		}
		emit(events.NewThreadCreated(in.origin, th))
	}
	// Where the ReplyNeeded of an episode opened by these messages goes,
	// once it is known to stay open.
	replyAt, opener := -1, ""
	var openedAt time.Time
	// An episode that opened and ended between two looks needs no reply
	// any more and is not announced, unless it may have been already:
	// then it is announced again (the same id) and resolved, so that no
	// ReplyNeeded is left without its end. Where the provider states
	// reply-needed, such an episode began when the lost page said, or
	// else with its first unanswered customer message.
	recovering := in.recover.any()
	quick := func(how events.Resolution, at time.Time, answer string) {
		since := in.recover.since(openedAt, at)
		if since.IsZero() || in.silent {
			next.ReplySince, replyAt = time.Time{}, -1
			return
		}
		next.ReplySince = since
		ev, _ := announce(in, next, opener)
		d.events = slices.Insert(d.events, replyAt, ev)
		replyAt = -1
		resolve(how, at, answer)
	}
	var lastOut time.Time // the newest owner message among the new ones
	for i := range msgs {
		m := &msgs[i]
		if !unseen(next, m) {
			continue
		}
		emit(events.NewMessageReceived(in.origin, threadID, *m))
		if m.CreatedAt.After(next.MsgAt) {
			next.MsgAt = m.CreatedAt
			next.MsgIDs = append(next.MsgIDs[:0], m.ID)
		} else {
			next.MsgIDs = append(next.MsgIDs, m.ID)
		}
		next.LastMsgID = m.ID
		switch m.Direction {
		case events.Inbound:
			next.LastInbound = m.ID
			if next.ReplySince.IsZero() && replyAt < 0 && (!in.stated || recovering) {
				replyAt, opener, openedAt = len(d.events), m.ID, m.CreatedAt.UTC()
				if !in.stated {
					next.ReplySince = openedAt
				}
			}
		case events.Outbound:
			lastOut = m.CreatedAt
			switch {
			case replyAt >= 0:
				quick(events.Answered, m.CreatedAt, m.ID)
			case !next.ReplySince.IsZero() && (!in.stated || m.CreatedAt.After(next.ReplySince)):
				// An owner message after the episode began answers it,
				// even where the provider shows a reply needed again in
				// the same look: that is a new episode.
				resolve(events.Answered, m.CreatedAt, m.ID)
			}
		}
	}
	if !in.stated {
		// A closed thread ends the episode, unless a message newer than
		// the list's view of the thread came with it: then the listing
		// predates that message, which may well have reopened the thread.
		stale := len(msgs) > 0 && msgs[len(msgs)-1].CreatedAt.After(in.item.LastMessageAt)
		if in.item.Closed && !stale {
			if replyAt >= 0 {
				quick(events.Closed, observedAt(in, next), "")
			} else {
				resolve(events.Closed, observedAt(in, next), "")
			}
		}
		if replyAt >= 0 {
			ev, timers := announce(in, next, opener)
			d.timers = timers
			if !in.silent {
				d.events = slices.Insert(d.events, replyAt, ev)
			}
		}
	} else {
		since := in.item.ReplyNeededSince
		switch {
		case since == nil:
			resolve(events.NoReplyNeeded, observedAt(in, next), "")
		case next.ReplySince.IsZero() && (lastOut.IsZero() || since.After(lastOut)):
			// One episode, one event: a provider that moves the date
			// while the reply is still pending does not open a new
			// episode. A date not after the owner's newest message is
			// a listing that predates that message.
			next.ReplySince = since.UTC()
			ev, timers := announce(in, next, next.LastInbound)
			d.timers = timers
			emit(ev)
		}
	}
	// Recording silently from the list alone: every message up to the
	// newest one the list mentions counts as seen.
	if in.silent && len(msgs) == 0 && in.item.LastMessageAt.After(next.MsgAt) {
		next.MsgAt = in.item.LastMessageAt.UTC()
		next.MsgIDs = nil
	}
	switch isOpen := next.Open(); {
	case isOpen && !wasOpen:
		d.open = 1
	case !isOpen && wasOpen:
		d.open = -1
	}
	return d
}

// appendDerived appends the events d yields to evs, the slice derive was
// given: in place when they fit its capacity.
func appendDerived(evs []events.Event, d *derived) []events.Event {
	if n := len(d.events); n > 0 && n <= cap(evs)-len(evs) && &evs[:len(evs)+1][len(evs)] == &d.events[0] {
		return evs[:len(evs)+n]
	}
	return append(evs, d.events...)
}

// announce gives the episode next.ReplySince opens its deadlines under the
// account's policy, and returns its ReplyNeeded (naming the inbound message
// that opened it, where known) and timers. Recorded
// silently, the episode is quiet: no timers, and no ReplyResolved later.
func announce(in deriveInput, next *checkpoint.ThreadState, inbound string) (events.Event, []checkpoint.Timer) {
	ev := events.NewReplyNeeded(in.origin, in.item.Thread.ID, next.ReplySince, inbound)
	if in.silent {
		next.Quiet = true
		return ev, nil
	}
	p := in.policy
	if p == nil {
		return ev, nil
	}
	next.Policy, next.DueAt, next.WarnAt = p.Name, p.Due(next.ReplySince), p.Warn(next.ReplySince)
	timers := []checkpoint.Timer{{Kind: checkpoint.Breach, Thread: in.item.Thread.ID, At: next.DueAt}}
	if !next.WarnAt.IsZero() {
		timers = append(timers, checkpoint.Timer{Kind: checkpoint.Warning, Thread: in.item.Thread.ID, At: next.WarnAt})
	}
	return ev.WithSLA(episodeSLA(next)), timers
}

// episodeSLA is the deadline stored with the episode in progress.
func episodeSLA(st *checkpoint.ThreadState) events.SLA {
	return events.SLA{Policy: st.Policy, DueAt: st.DueAt, WarnAt: st.WarnAt}
}

// resolution is the end of the announced episode of st at time at: its
// ReplyResolved, preceded by the warning and the breach its deadlines
// passed, had the timers not sent them yet: the answer came after the
// deadline but before the timer fired.
func resolution(in deriveInput, st *checkpoint.ThreadState, how events.Resolution, at time.Time, answer string) []events.Event {
	thread := in.item.Thread.ID
	r := events.Resolved{NeededSince: st.ReplySince, At: at, How: how, AnswerMessageID: answer, Business: -1}
	var out []events.Event
	if st.Policy != "" && !st.DueAt.IsZero() {
		s := episodeSLA(st)
		r.SLA = &s
		if !s.WarnAt.IsZero() && at.After(s.WarnAt) && !st.Warned {
			out = append(out, events.NewReplySLAWarning(in.origin, thread, st.ReplySince, s, true))
		}
		if at.After(s.DueAt) && !st.Breached {
			out = append(out, events.NewReplySLABreached(in.origin, thread, st.ReplySince, s, true))
		}
		if p := in.policy; p != nil && p.Name == st.Policy && p.Calendar != nil {
			r.Business = p.Business(st.ReplySince, at)
		}
	}
	return append(out, events.NewReplyResolved(in.origin, thread, r))
}

// endEpisode clears the episode in progress from st.
func endEpisode(st *checkpoint.ThreadState) {
	st.ReplySince, st.Quiet, st.Policy, st.DueAt, st.WarnAt = time.Time{}, false, "", time.Time{}, time.Time{}
	st.Warned, st.Breached = false, false
}

// observedAt is when an episode was seen to end without an answer: the
// provider's update time of the thread when it has one since the episode
// began, else the time of the look.
func observedAt(in deriveInput, st *checkpoint.ThreadState) time.Time {
	if u := in.item.UpdatedAt; !u.IsZero() && !u.Before(st.ReplySince) {
		return u.UTC()
	}
	return in.now.UTC()
}

// byTime orders messages by time and, within one instant (providers that
// keep whole seconds), by numeric id where both ids are numbers: such
// providers number messages as they come. Other ties keep the provider's
// order.
func byTime(a, b events.Message) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	x, errA := strconv.ParseUint(a.ID, 10, 64)
	y, errB := strconv.ParseUint(b.ID, 10, 64)
	if errA != nil || errB != nil {
		return 0
	}
	return cmp.Compare(x, y)
}

// unseen reports whether m is newer than what st has seen. A nil MsgIDs
// means every message at MsgAt was seen.
func unseen(st *checkpoint.ThreadState, m *events.Message) bool {
	switch m.CreatedAt.Compare(st.MsgAt) {
	case 1:
		return true
	case 0:
		return st.MsgIDs != nil && !slices.Contains(st.MsgIDs, m.ID)
	}
	return false
}
