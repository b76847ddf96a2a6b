package pollers

import (
	"context"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// Marks keeps, per account, the time up to which its events are on the
// stream, somewhere that does not lose it with the Store (*events.Marks).
type Marks interface {
	Mark(ctx context.Context, provider, account string, t time.Time) error
	LastMark(ctx context.Context, provider, account string) (time.Time, error)
}

// StateLoss says what an account whose state is lost does.
type StateLoss string

const (
	// StateLossResume records silently what is older than the mark and
	// publishes what is newer: nothing after the mark is lost, nothing
	// before it is published again.
	StateLossResume StateLoss = "resume"
	// StateLossFull publishes the whole inbox again, as a new full
	// account would.
	StateLossFull StateLoss = "full"
	// StateLossStop pauses the account until an operator resets it.
	StateLossStop StateLoss = "stop"
)

// markEvery bounds how often an account's mark is written: marks are for
// the rare loss of Redis, not for every page.
const markEvery = time.Minute

// checkMark looks, once per runner, for a lost state: a cursor that was
// never written, under a mark that says the account synced before. It
// returns the cursor the walk goes on with.
func (r *runner) checkMark(ctx context.Context, cur checkpoint.Cursor) (checkpoint.Cursor, error) {
	if r.cfg.Marks == nil || r.markChecked {
		return cur, nil
	}
	if cur.Synced || cur.InWalk() || cur.InitialSync != "" || !cur.SilentBefore.IsZero() {
		r.markChecked = true
		return cur, nil
	}
	mark, err := r.cfg.Marks.LastMark(ctx, r.acct.Provider, r.acct.ID)
	if err != nil {
		return cur, err
	}
	r.markChecked = true
	if mark.IsZero() {
		return cur, nil
	}
	r.markAt, r.markWritten = mark, mark
	action := r.cfg.OnStateLoss
	r.log.Warn("the account's state is gone from Redis although it synced before (Redis lost its data, or the key prefix changed)",
		"mark", mark.Format(time.RFC3339), "action", action)
	r.tel.lost(r.acct.Provider)
	ev := events.NewAccountEvent(r.origin, events.AccountStateLost, events.AccountState{Since: time.Now(), Mark: mark, Action: string(action)})
	if err := r.publishOne(ctx, ev); err != nil {
		r.markChecked = false
		return cur, err
	}
	switch action {
	case StateLossResume:
		cur.SilentBefore = mark
	case StateLossStop:
		p := checkpoint.Pause{By: "threadsync", At: time.Now(),
			Reason: fmt.Sprintf("state lost (synced up to %s); `threadsync reset` starts it over", mark.UTC().Format(time.RFC3339))}
		p, set, err := r.cfg.Store.Pause(ctx, r.ck, p)
		if err != nil {
			return cur, storeErr(err)
		}
		if set {
			if err := r.publishOne(ctx, PausedEvent(r.origin, p)); err != nil {
				r.log.Warn("publish AccountPaused", "error", err)
			}
		}
		return cur, &checkpoint.PausedError{Account: r.ck, Pause: p}
	}
	return cur, nil
}

// marked notes a completed walk that began at began: the account's events
// up to then are on the stream. The mark is written at most once a
// minute, and when the account's loop ends.
func (r *runner) marked(ctx context.Context, began time.Time) {
	if r.cfg.Marks == nil || began.IsZero() {
		return
	}
	if began.After(r.markAt) {
		r.markAt = began
	}
	if !r.markWritten.IsZero() && time.Since(r.markWritten) < markEvery {
		return
	}
	r.writeMark(ctx)
}

// writeMark writes the mark not yet written, if any.
func (r *runner) writeMark(ctx context.Context) {
	if r.cfg.Marks == nil || !r.markAt.After(r.markWritten) {
		return
	}
	if err := r.cfg.Marks.Mark(ctx, r.acct.Provider, r.acct.ID, r.markAt); err != nil {
		r.log.Debug("write the account's sync mark", "error", err)
		return
	}
	r.markWritten = r.markAt
}

// beforeMark drops from a page's events and timers what happened before
// the mark of a lost state (SilentBefore): it was published before the
// loss. An episode older than the mark stays announced, so that its end
// is published; its warning and breach, due before the mark, were too.
func beforeMark(d *derived, mark time.Time) {
	evs := d.events[:0]
	for _, e := range d.events {
		if !e.Time.Before(mark) {
			evs = append(evs, e)
		}
	}
	d.events = evs
	timers := d.timers[:0]
	for _, t := range d.timers {
		if !t.At.Before(mark) {
			timers = append(timers, t)
			continue
		}
		switch t.Kind {
		case checkpoint.Warning:
			d.state.Warned = true
		case checkpoint.Breach:
			d.state.Breached = true
		}
	}
	d.timers = timers
}
