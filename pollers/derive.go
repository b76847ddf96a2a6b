package pollers

import (
	"slices"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// deriveInput is everything derive needs to know about one changed thread.
type deriveInput struct {
	origin events.Origin
	item   *Item
	prev   *checkpoint.ThreadState // nil: the thread was never seen
	msgs   []events.Message        // may include messages already seen
	silent bool                    // record state without emitting (initial from_now)
	stated bool                    // the provider states reply-needed (Features.ReplyNeededStated)
}

// derive computes the events a changed thread yields, in causal order
// (ThreadCreated, then new messages oldest first, ReplyNeeded right after
// the message that opened its episode), and the thread's next state. Only an
// episode still open once the new messages are taken in is announced: one
// that opened and closed between two looks needs no reply any more, which
// also keeps a full sync to one ReplyNeeded per thread awaiting a reply.
// derive is pure: the same input always gives the same events and ids.
func derive(in deriveInput) ([]events.Event, checkpoint.ThreadState) {
	var next checkpoint.ThreadState
	if in.prev != nil {
		next = *in.prev
		next.MsgIDs = slices.Clone(in.prev.MsgIDs)
	} else {
		next.MsgIDs = []string{}
	}
	next.Version = in.item.Version
	threadID := in.item.Thread.ID

	var evs []events.Event
	emit := func(e events.Event) {
		if !in.silent {
			evs = append(evs, e)
		}
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
	replyAt, reply := -1, events.Event{}
	for i := range msgs {
		m := &msgs[i]
		if !unseen(&next, m) {
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
			if !in.stated && next.ReplySince.IsZero() {
				next.ReplySince = m.CreatedAt
				replyAt, reply = len(evs), events.NewReplyNeeded(in.origin, threadID, m.CreatedAt, m.ID)
			}
		case events.Outbound:
			if !in.stated {
				next.ReplySince = time.Time{}
				replyAt = -1
			}
		}
	}
	// A closed thread ends the episode, unless a message newer than the
	// list's view of the thread came with it: then the listing predates
	// that message, which may well have reopened the thread.
	stale := len(msgs) > 0 && msgs[len(msgs)-1].CreatedAt.After(in.item.LastMessageAt)
	if in.item.Closed && !in.stated && !stale {
		next.ReplySince, replyAt = time.Time{}, -1
	}
	if replyAt >= 0 && !in.silent {
		evs = slices.Insert(evs, replyAt, reply)
	}

	if in.stated {
		switch since := in.item.ReplyNeededSince; {
		case since == nil:
			next.ReplySince = time.Time{}
		case next.ReplySince.IsZero():
			// One episode, one event: a provider that moves the date while
			// the reply is still pending does not open a new episode.
			next.ReplySince = since.UTC()
			emit(events.NewReplyNeeded(in.origin, threadID, next.ReplySince, next.LastInbound))
		}
	}
	// Recording silently from the list alone: every message up to the
	// newest one the list mentions counts as seen.
	if in.silent && len(msgs) == 0 && in.item.LastMessageAt.After(next.MsgAt) {
		next.MsgAt = in.item.LastMessageAt.UTC()
		next.MsgIDs = nil
	}
	return evs, next
}

func byTime(a, b events.Message) int { return a.CreatedAt.Compare(b.CreatedAt) }

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
