package checkpoint_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
)

// TestTimers follows one account's reply deadlines through commits, a
// firing, and a worker that lost the account.
func TestTimers(t *testing.T) {
	t.Parallel()
	replica, _ := checkpointtest.Replicas(t)
	s, other := replica(), replica()
	ctx := context.Background()
	a := checkpoint.Account{Provider: "olx", ID: "timers"}
	base := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	lease, err := s.Acquire(ctx, a, time.Minute)
	if err != nil || !lease.NextTimer.IsZero() {
		t.Fatalf("acquire: %+v, %v; want no timer", lease, err)
	}
	open := func(since time.Time) *checkpoint.ThreadState {
		return &checkpoint.ThreadState{Version: "v", ReplySince: since, Policy: "p", DueAt: since.Add(time.Hour), WarnAt: since.Add(50 * time.Minute)}
	}
	states := map[string]*checkpoint.ThreadState{"t1": open(base), "t2": open(base.Add(time.Minute))}
	first, err := s.Commit(ctx, lease, checkpoint.Cursor{Open: 2}, states, checkpoint.TimerChanges{Set: []checkpoint.Timer{
		{Kind: checkpoint.Breach, Thread: "t1", At: base.Add(time.Hour)},
		{Kind: checkpoint.Warning, Thread: "t1", At: base.Add(50 * time.Minute)},
		{Kind: checkpoint.Breach, Thread: "t2", At: base.Add(61 * time.Minute)},
		{Kind: checkpoint.Warning, Thread: "t2", At: base.Add(51 * time.Minute)},
	}})
	if err != nil || !first.Equal(base.Add(50*time.Minute)) {
		t.Fatalf("commit: first timer %v, %v; want t1's warning", first, err)
	}
	// A worker taking the account over learns the earliest timer with the lease.
	if err := s.Release(ctx, lease); err != nil {
		t.Fatal(err)
	}
	lease, err = other.Acquire(ctx, a, time.Minute)
	if err != nil || !lease.NextTimer.Equal(base.Add(50*time.Minute)) {
		t.Fatalf("take-over: %+v, %v", lease, err)
	}
	// Due by 55 minutes: both warnings, earliest first, with their states.
	due, err := other.DueTimers(ctx, a, base.Add(55*time.Minute), 10)
	if err != nil || len(due) != 2 || due[0].Thread != "t1" || due[1].Thread != "t2" || due[0].Kind != checkpoint.Warning ||
		due[0].State == nil || !due[0].State.DueAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("due: %+v, %v", due, err)
	}
	if limited, _ := other.DueTimers(ctx, a, base.Add(55*time.Minute), 1); len(limited) != 1 {
		t.Fatalf("limit 1 gave %d timers", len(limited))
	}
	// The worker that lost the account cannot retire them.
	if _, err := s.DoneTimers(ctx, checkpoint.Lease{Account: a, Token: "stale#1", TTL: time.Minute}, due[:1], nil, base); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("stale DoneTimers: %v, want ErrLeaseLost", err)
	}
	warned := *due[0].State
	warned.Warned = true
	// t2 changed since its timers were read (a commit gave it a new
	// episode): its new warning stays, its new state is not overwritten.
	moved := open(base.Add(90 * time.Minute))
	if _, err := other.Commit(ctx, lease, checkpoint.Cursor{Open: 2}, map[string]*checkpoint.ThreadState{"t2": moved},
		checkpoint.TimerChanges{Cancel: []string{"t2"}, Set: []checkpoint.Timer{
			{Kind: checkpoint.Breach, Thread: "t2", At: base.Add(61 * time.Minute)},
			{Kind: checkpoint.Warning, Thread: "t2", At: base.Add(140 * time.Minute)},
		}}); err != nil {
		t.Fatal(err)
	}
	stale := *due[1].State
	stale.Warned = true
	next, err := other.DoneTimers(ctx, lease, due, map[string]*checkpoint.ThreadState{"t1": &warned, "t2": &stale}, base.Add(55*time.Minute))
	if err != nil || !next.Equal(base.Add(time.Hour)) {
		t.Fatalf("done: next %v, %v; want t1's breach", next, err)
	}
	got, err := other.Threads(ctx, a, []string{"t1", "t2"})
	if err != nil || !got[0].Warned || got[1].Warned || !got[1].ReplySince.Equal(moved.ReplySince) {
		t.Fatalf("after the firing: t1 %+v, t2 %+v, %v", got[0], got[1], err)
	}
	if due, _ := other.DueTimers(ctx, a, base.Add(200*time.Minute), 10); len(due) != 3 || due[2].Kind != checkpoint.Warning || !due[2].At.Equal(base.Add(140*time.Minute)) {
		t.Fatalf("timers after the firing: %+v; want t1's breach, t2's breach and t2's new warning", due)
	}
	// t1 is answered: its commit cancels its breach; t2's stay.
	first, err = other.Commit(ctx, lease, checkpoint.Cursor{Open: 1}, map[string]*checkpoint.ThreadState{"t1": {Version: "w"}},
		checkpoint.TimerChanges{Cancel: []string{"t1"}})
	if err != nil || !first.Equal(base.Add(61*time.Minute)) {
		t.Fatalf("after the answer: first %v, %v; want t2's breach", first, err)
	}
	// A new episode on t2 replaces its timers: cancel, then set.
	first, err = other.Commit(ctx, lease, checkpoint.Cursor{Open: 1}, map[string]*checkpoint.ThreadState{"t2": open(base.Add(2 * time.Hour))},
		checkpoint.TimerChanges{Cancel: []string{"t2"}, Set: []checkpoint.Timer{{Kind: checkpoint.Breach, Thread: "t2", At: base.Add(3 * time.Hour)}}})
	if err != nil || !first.Equal(base.Add(3*time.Hour)) {
		t.Fatalf("new episode: first %v, %v", first, err)
	}
	if due, _ := other.DueTimers(ctx, a, base.Add(150*time.Minute), 10); len(due) != 0 {
		t.Fatalf("timers of ended episodes left: %+v", due)
	}
	if _, err := other.Commit(ctx, lease, checkpoint.Cursor{}, nil, checkpoint.TimerChanges{Set: []checkpoint.Timer{{Kind: 'x', Thread: "t", At: base}}}); err == nil {
		t.Fatal("a timer of unknown kind was committed")
	}
}
