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
// time, for those of a previous holder that died: an episode open at some
// moment between when that holder took the account (or its walk began) and
// when this worker took over. Repeating a ReplyNeeded is harmless only
// within the stream's duplicate window, so recovery lasts no longer.

// recoverBehind and recoverAhead allow for a provider's clock running
// behind or ahead of the workers' when a holder's times are compared with
// message times: the first widens the window back, the second forward.
const (
	recoverBehind = 5 * time.Minute
	recoverAhead  = time.Minute
)

// recovery is a runner's, under its mu.
type recovery struct {
	// lost holds, per thread, when the episode began that a page sent
	// and not committed announced, until a page with the thread commits.
	lost map[string]time.Time
	// after and until: a previous holder's pages may have announced the
	// episodes open at some moment between the two. Zero when none.
	after, until time.Time
	// expires is when the recovery's repeats would no longer be dropped
	// as duplicates, and it ends.
	expires time.Time
	// inherit: the lease came from a holder that did not finish; taken,
	// when it took the account. after is set from the cursor the walk
	// starts from.
	inherit bool
	taken   time.Time
}

// active reports whether pages may have been published without their
// commit; the lease is then abandoned rather than released.
func (v *recovery) active() bool { return len(v.lost) > 0 || !v.after.IsZero() || v.inherit }

// bound is what the account's cursor keeps while recovering, for a holder
// taking over should this one die too: no page awaiting recovery was
// fetched before it.
func (v *recovery) bound() time.Time {
	b := v.after
	for _, since := range v.lost {
		b = earliest(b, since)
	}
	return b
}

// walking is told of each walk's cursor. A recovery past the duplicate
// window ends. One inherited from a holder that did not finish is taken
// over: its pages were fetched after the cursor's bound, or else after
// that holder took the account and the walk began.
func (v *recovery) walking(cur checkpoint.Cursor, now time.Time, window time.Duration) {
	if !v.expires.IsZero() && now.After(v.expires) {
		v.lost, v.after, v.until, v.expires = nil, time.Time{}, time.Time{}, time.Time{}
	}
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
		b = b.Add(-recoverBehind)
	}
	v.after = earliest(v.after, b)
	v.until = now.Add(recoverAhead)
	v.expires = now.Add(window)
}

// left records the states that pages sent and not committed gave their
// threads.
func (v *recovery) left(unsent map[string]*checkpoint.ThreadState, now time.Time, window time.Duration) {
	for id, st := range unsent {
		if !st.Open() {
			continue // announced nothing that could be left open
		}
		if v.lost == nil {
			v.lost = map[string]time.Time{}
		}
		v.lost[id] = st.ReplySince
		v.expires = now.Add(window)
	}
}

// committed forgets the threads of a committed page: their states now
// follow a look made since.
func (v *recovery) committed(changed map[string]*checkpoint.ThreadState) {
	for id := range changed {
		delete(v.lost, id)
	}
}

// hint is what derive is told of the thread.
func (v *recovery) hint(thread string) recoveryHint {
	return recoveryHint{lost: v.lost[thread], after: v.after, until: v.until}
}

// recoveryHint tells derive which episode of a thread that opened and
// ended since its state was committed may have been announced: the one
// that began at lost (zero: none), and any open at some moment between
// after and until (zero: none).
type recoveryHint struct {
	lost, after, until time.Time
}

func (h recoveryHint) any() bool { return !h.lost.IsZero() || !h.after.IsZero() }

// since is the needed_since under which an episode that opened at opened
// and ended at ended may have been announced; zero when none.
func (h recoveryHint) since(opened, ended time.Time) time.Time {
	switch {
	case !h.lost.IsZero() && !h.lost.Before(opened) && !ended.Before(h.lost):
		return h.lost
	case !h.after.IsZero() && ended.After(h.after) && !opened.After(h.until):
		return opened
	}
	return time.Time{}
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
