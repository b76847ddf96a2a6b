// Package ops holds the operator commands of threadsync that act on one
// account through Redis (and NATS where an event must be published),
// whether or not a worker is running: list the accounts with their state,
// pause, resume, poll now.
package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// Publisher publishes the account events the commands cause.
type Publisher interface {
	Publish(ctx context.Context, evs []events.Event) error
}

// Ops runs the commands against one deployment's store and stream.
type Ops struct {
	Store *checkpoint.Store
	// Accounts are the accounts file's; commands accept only these.
	Accounts []pollers.Account
	// Publisher publishes AccountPaused and AccountResumed; required by
	// Pause and Resume.
	Publisher     Publisher
	SubjectPrefix string
	Out           io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o *Ops) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ErrUnknownAccount is returned for an account the accounts file does not list.
var ErrUnknownAccount = errors.New("no such account in the accounts file")

// Find returns the account named <provider>/<id>.
func (o *Ops) Find(name string) (pollers.Account, error) {
	p, id, ok := strings.Cut(name, "/")
	if !ok || p == "" || id == "" {
		return pollers.Account{}, fmt.Errorf("account %q: name it <provider>/<id>, e.g. mirakl/shop-2001", name)
	}
	for _, a := range o.Accounts {
		if a.Provider == p && a.ID == id {
			return a, nil
		}
	}
	return pollers.Account{}, fmt.Errorf("account %s: %w", name, ErrUnknownAccount)
}

func ck(a pollers.Account) checkpoint.Account {
	return checkpoint.Account{Provider: a.Provider, ID: a.ID}
}

func (o *Ops) origin(a pollers.Account) events.Origin {
	return events.Origin{Prefix: o.SubjectPrefix, Provider: a.Provider, Account: a.ID}
}

// State is one account's state as `threadsync accounts --json` prints it.
type State struct {
	Account string `json:"account"`
	// Synced: the account's first walk completed.
	Synced bool `json:"synced"`
	// LastCommit is when the last page of the account was committed.
	LastCommit *time.Time `json:"last_commit,omitempty"`
	// Walk is the kind of walk in progress (initial, incremental, sweep);
	// empty when none is.
	Walk string `json:"walk,omitempty"`
	// Paused is the pause in force.
	Paused *checkpoint.Pause `json:"paused,omitempty"`
	// Holder is the worker holding the account's lease.
	Holder string `json:"holder,omitempty"`
	// Failures counts the consecutive failed polls; LastError is the last.
	Failures  int    `json:"failures"`
	LastError string `json:"last_error,omitempty"`
	// OpenEpisodes counts the threads awaiting a reply announced with
	// ReplyNeeded.
	OpenEpisodes int   `json:"open_episodes"`
	Threads      int64 `json:"threads"`
	// ResetPending is a reset asked for and not carried out yet;
	// Backfill the last backfill asked for.
	ResetPending *checkpoint.ResetRequest `json:"reset_pending,omitempty"`
	Backfill     *checkpoint.Backfill     `json:"backfill,omitempty"`
}

var walks = map[pollers.Walk]string{pollers.WalkInitial: "initial", pollers.WalkIncremental: "incremental", pollers.WalkSweep: "sweep"}

// States reads every account's state.
func (o *Ops) States(ctx context.Context) ([]State, error) {
	out := make([]State, 0, len(o.Accounts))
	for _, a := range o.Accounts {
		in, err := o.Store.Inspect(ctx, ck(a))
		if err != nil {
			return nil, err
		}
		s := State{Account: a.String(), Synced: in.Cursor.Synced, Paused: in.Paused, Holder: in.Holder,
			OpenEpisodes: in.Cursor.Open, Threads: in.Threads, ResetPending: in.Reset, Backfill: in.Backfill}
		if !in.Cursor.Committed.IsZero() {
			t := in.Cursor.Committed
			s.LastCommit = &t
		}
		if in.Cursor.InWalk() {
			s.Walk = walks[pollers.Walk(in.Cursor.Walk)]
		}
		if in.Health != nil {
			s.Failures, s.LastError = in.Health.Failures, in.Health.Error
		}
		out = append(out, s)
	}
	return out, nil
}

// List prints every account's state: a table, or JSON lines with asJSON.
func (o *Ops) List(ctx context.Context, asJSON bool) error {
	states, err := o.States(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(o.Out)
		for _, s := range states {
			if err := enc.Encode(s); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(o.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tSTATE\tLAST COMMIT\tWALK\tHOLDER\tFAILURES\tOPEN\tTHREADS")
	now := o.now()
	for _, s := range states {
		state := "new"
		switch {
		case s.Paused != nil:
			state = "paused (" + s.Paused.By
			if s.Paused.Reason != "" {
				state += ": " + s.Paused.Reason
			}
			state += ")"
		case s.Failures > 0:
			state = "failing"
		case s.Synced:
			state = "synced"
		}
		switch b := s.Backfill; {
		case s.ResetPending != nil:
			state += ", reset pending"
		case b != nil && b.Done.IsZero():
			state += fmt.Sprintf(", backfill %d/%d", b.Walked, b.Total)
		}
		last := "-"
		if s.LastCommit != nil {
			last = now.Sub(*s.LastCommit).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", s.Account, state, last, dash(s.Walk), dash(s.Holder), s.Failures, s.OpenEpisodes, s.Threads)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Pause pauses the account: no worker polls it from its next poll on,
// until Resume. by names who pauses it.
func (o *Ops) Pause(ctx context.Context, name, by, reason string) error {
	a, err := o.Find(name)
	if err != nil {
		return err
	}
	p, set, err := o.Store.Pause(ctx, ck(a), checkpoint.Pause{By: by, Reason: reason, At: o.now()})
	if err != nil {
		return err
	}
	if !set {
		fmt.Fprintf(o.Out, "%s was paused already, by %s at %s\n", a, p.By, p.At.Format(time.RFC3339))
		return nil
	}
	if err := o.Publisher.Publish(ctx, []events.Event{pollers.PausedEvent(o.origin(a), p)}); err != nil {
		return fmt.Errorf("account %s is paused, but AccountPaused was not published: %w", a, err)
	}
	fmt.Fprintf(o.Out, "%s paused; the worker holding it stops at its next poll (within one poll interval)\n", a)
	return nil
}

// Resume lifts the account's pause and asks the workers to poll it now.
func (o *Ops) Resume(ctx context.Context, name, by, reason string) error {
	a, err := o.Find(name)
	if err != nil {
		return err
	}
	_, was, err := o.Store.Resume(ctx, ck(a))
	if err != nil {
		return err
	}
	if !was {
		fmt.Fprintf(o.Out, "%s was not paused\n", a)
		return nil
	}
	ev := events.NewAccountEvent(o.origin(a), events.AccountResumed, events.AccountState{Since: o.now(), By: by, Reason: reason})
	if err := o.Publisher.Publish(ctx, []events.Event{ev}); err != nil {
		return fmt.Errorf("account %s is resumed, but AccountResumed was not published: %w", a, err)
	}
	n, err := o.Store.Kick(ctx, ck(a))
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s resumed; %s\n", a, heard(n))
	return nil
}

// SyncNow asks the worker holding the account to poll it now.
func (o *Ops) SyncNow(ctx context.Context, name string) error {
	a, err := o.Find(name)
	if err != nil {
		return err
	}
	in, err := o.Store.Inspect(ctx, ck(a))
	if err != nil {
		return err
	}
	if in.Paused != nil {
		return fmt.Errorf("account %s is paused (by %s); resume it first", a, in.Paused.By)
	}
	n, err := o.Store.Kick(ctx, ck(a))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("account %s: no worker is running to poll it", a)
	}
	fmt.Fprintf(o.Out, "%s: %s\n", a, heard(n))
	return nil
}

func heard(n int64) string {
	switch n {
	case 0:
		return "no worker is running; the first to start polls it"
	case 1:
		return "1 worker asked to poll it now"
	}
	return fmt.Sprintf("%d workers asked; the one holding it polls it now", n)
}

// ResetWarning is what a full reset costs consumers, said before it is done.
func ResetWarning(initialSync string, window time.Duration) string {
	if initialSync == string(pollers.SyncFull) {
		return fmt.Sprintf("every thread and message of the account is published again: consumers receive copies of what they received more than %s (THREADSYNC_DUPLICATE_WINDOW) ago, and ReplyNeeded again for the episodes still open", window)
	}
	return "the account's inbox is recorded again silently: nothing is published for what is there now; episodes announced before and still open get no ReplyResolved"
}

// Reset asks the worker holding the account to start it over with the
// given initial sync, and waits up to wait for it to be carried out.
func (o *Ops) Reset(ctx context.Context, name, initialSync, by string, wait time.Duration) error {
	a, err := o.Find(name)
	if err != nil {
		return err
	}
	if initialSync != string(pollers.SyncFull) && initialSync != string(pollers.SyncFromNow) {
		return fmt.Errorf("account %s: reset to %q: choose --full or --from-now", a, initialSync)
	}
	req := checkpoint.ResetRequest{ID: strconv.FormatInt(o.now().UnixNano(), 36), InitialSync: initialSync, By: by, At: o.now()}
	if err := o.Store.RequestReset(ctx, ck(a), req); err != nil {
		return err
	}
	n, err := o.Store.Kick(ctx, ck(a))
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(o.Out, "%s: reset requested; no worker is running, and the first to poll the account carries it out\n", a)
		return nil
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		p, err := o.Store.PendingReset(ctx, ck(a))
		if err != nil {
			return err
		}
		if p == nil || p.ID != req.ID {
			fmt.Fprintf(o.Out, "%s: reset done; its next walk is its first (%s)\n", a, initialSync)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			fmt.Fprintf(o.Out, "%s: reset requested; the worker holding the account carries it out at its next poll (paused or failing accounts wait)\n", a)
			return nil
		case <-tick.C:
		}
	}
}

// Backfill asks for a backfill of the account (or joins the one under
// way) and follows it until it is done or ctx ends, calling progress on
// every change. Ending ctx leaves the backfill running in the worker.
func (o *Ops) Backfill(ctx context.Context, name string, since time.Time, by string, progress func(checkpoint.Backfill)) (checkpoint.Backfill, error) {
	a, err := o.Find(name)
	if err != nil {
		return checkpoint.Backfill{}, err
	}
	if a.InitialSync != pollers.SyncFromNow {
		fmt.Fprintf(o.Out, "%s starts with initial_sync %s: only threads recorded by a from_now start (or a reset --from-now) have history to backfill\n", a, a.InitialSync)
	}
	req := checkpoint.Backfill{ID: strconv.FormatInt(o.now().UnixNano(), 36), Since: since, By: by, At: o.now()}
	b, err := o.Store.RequestBackfill(ctx, ck(a), req)
	switch {
	case errors.Is(err, checkpoint.ErrBackfillRunning):
		fmt.Fprintf(o.Out, "%s: a backfill asked by %s at %s is under way; following it\n", a, b.By, b.At.Format(time.RFC3339))
	case err != nil:
		return checkpoint.Backfill{}, err
	}
	n, err := o.Store.Kick(ctx, ck(a))
	if err != nil {
		return b, err
	}
	if n == 0 {
		fmt.Fprintf(o.Out, "%s: no worker is running; the backfill starts with the first to poll the account\n", a)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var last checkpoint.Backfill
	for {
		cur, err := o.Store.Backfill(ctx, ck(a))
		if err != nil {
			return last, err
		}
		if cur == nil || cur.ID != b.ID {
			return last, fmt.Errorf("account %s: the backfill was replaced by another", a)
		}
		if *cur != last {
			last = *cur
			progress(last)
		}
		if !last.Done.IsZero() {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-tick.C:
		}
	}
}
