package pollerstest

import (
	"time"

	"github.com/threadsync/threadsync/events"
)

// Episode is one reply-needed episode of a thread, as its ground truth
// implies: it opens at the first inbound message after the owner's last
// message (or the thread's start) and ends at the owner's next message
// (answered) or, for a thread closed while it is open, with the closing.
// This is the rule threadsync derives for providers that do not state
// reply-needed, and what Mirakl's shop_reply_needed_since states as long
// as nobody uses "no reply needed".
type Episode struct {
	// Since is when the episode opened: the creation time of Opener, its
	// ReplyNeeded's needed_since.
	Since time.Time
	// Opener is the id of the inbound message that opened it.
	Opener string
	// Answer is the owner message that ended it; nil while it is open or
	// when the thread's closing ended it.
	Answer *Message
	// Closed: the thread's closing ended it (HubSpot's CLOSED); the time
	// of the closing is not known.
	Closed bool
}

// Open reports whether the episode is still open.
func (e Episode) Open() bool { return e.Answer == nil && !e.Closed }

// OpenAt reports whether the episode was open at t: it had opened by then
// and its answer, if any, came after t. An episode ended by a closing
// counts as open at every t after Since, the closing's time being unknown.
func (e Episode) OpenAt(t time.Time) bool {
	return !t.Before(e.Since) && (e.Answer == nil || e.Answer.At.After(t))
}

// Episodes derives every reply-needed episode of th from its messages,
// oldest first. Only the last one may be open. A closed thread ends the
// last episode if it is open; Thread.Closed is the thread's current
// status only, so an episode a closing ended before a later inbound
// message reopened the thread cannot be told apart from the one that
// message continues.
func Episodes(th Thread) []Episode {
	var out []Episode
	open := false
	for _, m := range th.Messages {
		switch {
		case m.Direction == events.Inbound && !open:
			out = append(out, Episode{Since: m.At, Opener: m.ID})
			open = true
		case m.Direction == events.Outbound && open:
			out[len(out)-1].Answer = &m
			open = false
		}
	}
	if open && th.Closed {
		out[len(out)-1].Closed = true
	}
	return out
}
