package pollers

import (
	"time"

	"github.com/threadsync/threadsync/checkpoint"
)

// A page is published before it is committed, so a crash or a refused
// commit can leave its events on the stream while Redis still holds the
// states before it. The next look derives them again from those states, and
// JetStream drops the copies; but an episode that page announced and that
// was answered before the next look would seem to have opened and ended
// between two looks, which is not announced, and its ReplyNeeded would never
// get its ReplyResolved. recovery tells derive which such episodes may have
// been announced: exactly, for the pages this worker left uncommitted; by
// time, for those of a previous holder that died (the episodes that ended
// after it may have looked).

// recoverSkew allows for a provider's clock running behind the workers'
// when a previous holder's time is compared with message times.
const recoverSkew = 5 * time.Minute

// recovery is a runner's, under its mu.
type recovery struct {
	// lost holds, per thread, when the episode began that a page sent and
	// not committed announced; since is when the first poll leaving such
	// pages began.
	lost  map[string]time.Time
	since time.Time
	// after: a previous holder's pages may have announced the episodes
	// that ended after it; zero when none.
	after time.Time
	// inherit: the lease came from a holder that did not finish; taken,
	// when it took the account. after is set from the cursor the walk
	// starts from.
	inherit bool
	taken   time.Time
	// fresh: the walk under way began in this poll. A walk resumed from
	// the cursor may not list again a thread of the lost pages that has
	// moved in the list since, so only a fresh one ends the recovery.
	fresh bool
}

// active reports whether pages may have been published without their
// commit; the lease is then abandoned rather than released.
func (v *recovery) active() bool { return len(v.lost) > 0 || !v.after.IsZero() || v.inherit }

// bound is what the account's cursor keeps while recovering, for a holder
// taking over should this one die too: no lost page was fetched before it.
func (v *recovery) bound() time.Time { return earliest(v.since, v.after) }

// inherited takes over a holder's recovery that did not finish, once the
// cursor is read: its pages were fetched after the cursor's bound, or
// else after that holder took the account and the walk began.
func (v *recovery) inherited(cur checkpoint.Cursor) {
	if !v.inherit {
		return
	}
	v.inherit = false
	b := cur.Recover
	if b.IsZero() {
		b = cur.Started
		if v.taken.After(b) {
			b = v.taken
		}
	}
	if b.IsZero() {
		b = time.Unix(0, 1) // nothing known: any episode may have been announced
	} else {
		b = b.Add(-recoverSkew)
	}
	v.after = earliest(v.after, b)
}

// left records the states that pages of a poll begun at began sent and did
// not commit.
func (v *recovery) left(unsent map[string]*checkpoint.ThreadState, began time.Time) {
	for id, st := range unsent {
		if !st.Open() {
			continue // announced nothing that could be left open
		}
		if v.lost == nil {
			v.lost = map[string]time.Time{}
		}
		v.lost[id] = st.ReplySince
		v.since = earliest(v.since, began)
	}
}

// walked ends the recovery after a walk that completed.
func (v *recovery) walked() {
	if v.fresh && !v.inherit {
		v.lost, v.since, v.after = nil, time.Time{}, time.Time{}
	}
}

// earliest is the earlier of two times, zero standing for none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
