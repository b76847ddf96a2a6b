package checkpoint_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
)

var acct = checkpoint.Account{Provider: "mirakl", ID: "shop-1"}

func TestCommitAndReadBack(t *testing.T) {
	t.Parallel()
	s, rdb := checkpointtest.NewStore(t)
	ctx := context.Background()

	c, err := s.Cursor(ctx, acct)
	if err != nil || c != (checkpoint.Cursor{}) {
		t.Fatalf("fresh cursor = %+v, %v; want zero", c, err)
	}
	lease, err := s.Acquire(ctx, acct, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if lease.Cursor == nil || *lease.Cursor != (checkpoint.Cursor{}) {
		t.Fatalf("fresh lease's cursor = %+v; want the zero cursor", lease.Cursor)
	}
	at := time.Date(2024, 3, 1, 9, 0, 0, 5, time.UTC)
	want := checkpoint.Cursor{Since: at, High: at.Add(time.Second), Page: "tok", Walk: 1, Synced: true, LastSweep: at}
	states := map[string]*checkpoint.ThreadState{
		"t-1": {Version: "v1", MsgAt: at, MsgIDs: []string{"m-1", "m-2"}, LastMsgID: "m-2", ReplySince: at, LastInbound: "m-1"},
		"t-2": {Version: "v2"},
	}
	if _, err := s.Commit(ctx, lease, want, states, checkpoint.TimerChanges{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Cursor(ctx, acct)
	if err != nil || !got.Since.Equal(want.Since) || !got.High.Equal(want.High) || got.Page != "tok" || got.Walk != 1 || !got.Synced || !got.LastSweep.Equal(at) {
		t.Fatalf("cursor = %+v, %v; want %+v", got, err, want)
	}
	// The lease, extended, brings the cursor with it.
	again, err := s.Acquire(ctx, acct, time.Minute)
	if err != nil || again.Token != lease.Token || again.Cursor == nil {
		t.Fatalf("extended lease = %+v, %v; want the same token, with its cursor", again, err)
	}
	if c := *again.Cursor; !c.Since.Equal(want.Since) || c.Page != "tok" || !c.Synced || !c.LastSweep.Equal(at) {
		t.Fatalf("lease's cursor = %+v; want %+v", c, want)
	}
	sts, err := s.Threads(ctx, acct, []string{"t-2", "unknown", "t-1"})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0] == nil || sts[0].Version != "v2" || sts[1] != nil || sts[2] == nil {
		t.Fatalf("states = %+v", sts)
	}
	if st := sts[2]; st.Version != "v1" || !st.MsgAt.Equal(at) || len(st.MsgIDs) != 2 || st.LastMsgID != "m-2" || !st.ReplySince.Equal(at) || st.LastInbound != "m-1" {
		t.Fatalf("t-1 state = %+v", st)
	}
	// Every key of the account carries its hash tag, for Redis Cluster.
	keys, err := rdb.Keys(ctx, "*{mirakl:shop-1}*").Result()
	if err != nil || len(keys) < 3 {
		t.Fatalf("keys with the hash tag: %v %v", keys, err)
	}
}

func TestLeaseFencesCommits(t *testing.T) {
	t.Parallel()
	replica, _ := checkpointtest.Replicas(t)
	a, b := replica(), replica() // two workers on the same Redis and prefix
	ctx := context.Background()
	la, err := a.Acquire(ctx, acct, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, acct, time.Minute); !errors.Is(err, checkpoint.ErrLeaseHeld) {
		t.Fatalf("second worker acquired a held lease: %v", err)
	}
	// Re-acquiring extends the same lease.
	if again, err := a.Acquire(ctx, acct, time.Minute); err != nil || again.Token != la.Token {
		t.Fatalf("re-acquire: %+v %v", again, err)
	}
	if err := a.Release(ctx, la); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Acquire(ctx, acct, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if lb.Token == la.Token {
		t.Fatal("new holder got the old token")
	}
	// The old holder's commit is refused and changes nothing.
	_, err = a.Commit(ctx, la, checkpoint.Cursor{Page: "stale"}, map[string]*checkpoint.ThreadState{"t": {Version: "x"}}, checkpoint.TimerChanges{})
	if !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("stale commit: %v, want ErrLeaseLost", err)
	}
	if c, _ := b.Cursor(ctx, acct); c.Page != "" {
		t.Fatalf("stale commit moved the cursor to %q", c.Page)
	}
	if sts, _ := b.Threads(ctx, acct, []string{"t"}); sts[0] != nil {
		t.Fatal("stale commit wrote a thread state")
	}
	if _, err := b.Commit(ctx, lb, checkpoint.Cursor{Page: "p2"}, nil, checkpoint.TimerChanges{}); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseExpires(t *testing.T) {
	t.Parallel()
	replica, rdb := checkpointtest.Replicas(t)
	a, b := replica(), replica()
	ctx := context.Background()
	la, err := a.Acquire(ctx, acct, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Expire it now instead of waiting for the clock.
	if err := rdb.Del(ctx, leaseKey(t, a)).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, acct, time.Minute); err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	if _, err := a.Commit(ctx, la, checkpoint.Cursor{}, nil, checkpoint.TimerChanges{}); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("commit after expiry: %v", err)
	}
}

func TestNewRejectsBadPrefix(t *testing.T) {
	t.Parallel()
	rdb := checkpointtest.Redis(t)
	for _, p := range []string{"", "a b", "a{b", "x}"} {
		if _, err := checkpoint.New(rdb, p); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func leaseKey(t *testing.T, s *checkpoint.Store) string {
	t.Helper()
	return s.Keys(acct).Lease
}

// TestWorkersAndLeaseFree: a heartbeat lists the workers alive, one that
// leaves or whose heartbeat lapses drops out, and LeaseFree follows the lease.
func TestWorkersAndLeaseFree(t *testing.T) {
	t.Parallel()
	rdb := checkpointtest.Redis(t)
	prefix := checkpointtest.Prefix(t, rdb)
	a, _ := checkpoint.New(rdb, prefix)
	b, _ := checkpoint.New(rdb, prefix)
	c, _ := checkpoint.New(rdb, prefix)
	ctx := context.Background()
	if _, err := a.Heartbeat(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Heartbeat(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	ids, err := b.Heartbeat(ctx, time.Minute)
	if err != nil || !sameSet(ids, a.Owner(), b.Owner(), c.Owner()) {
		t.Fatalf("workers %v %v, want a, b and c", ids, err)
	}
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	// a's heartbeat lapses after 50ms by Redis's clock.
	for deadline := time.Now().Add(5 * time.Second); ; {
		ids, err = b.Heartbeat(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if sameSet(ids, b.Owner()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v, want only b once a lapsed and c left", ids)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if free, err := b.LeaseFree(ctx, acct); err != nil || !free {
		t.Fatalf("LeaseFree before any lease: %v %v", free, err)
	}
	l, err := a.Acquire(ctx, acct, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if free, err := b.LeaseFree(ctx, acct); err != nil || free {
		t.Fatalf("LeaseFree while a holds it: %v %v", free, err)
	}
	if err := a.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	if free, _ := b.LeaseFree(ctx, acct); !free {
		t.Fatal("LeaseFree after release: false")
	}
}

func sameSet(got []string, want ...string) bool {
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	return slices.Equal(got, want)
}

func TestExtendIsFenced(t *testing.T) {
	t.Parallel()
	s, rdb := checkpointtest.NewStore(t)
	ctx := context.Background()
	a := checkpoint.Account{Provider: "mirakl", ID: "extend"}
	l, err := s.Acquire(ctx, a, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Extend(ctx, checkpoint.Lease{Account: a, Token: l.Token, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.PTTL(ctx, s.Keys(a).Lease).Val(); ttl < 50*time.Second {
		t.Fatalf("lease lives %s after Extend for a minute", ttl)
	}
	if err := s.Extend(ctx, checkpoint.Lease{Account: a, Token: l.Token + "0", TTL: time.Minute}); !errors.Is(err, checkpoint.ErrLeaseLost) {
		t.Fatalf("Extend with another token: %v, want ErrLeaseLost", err)
	}
}

// A worker taking an account over learns whether the previous holder left
// without releasing it, and so may have published pages it never committed.
func TestAcquireTellsOfAnUnfinishedHolder(t *testing.T) {
	t.Parallel()
	replica, rdb := checkpointtest.Replicas(t)
	a, b := replica(), replica()
	ctx := context.Background()
	acct := checkpoint.Account{Provider: "mirakl", ID: "unfinished"}
	lapse := func(s *checkpoint.Store) {
		t.Helper()
		if err := rdb.Del(ctx, s.Keys(acct).Lease).Err(); err != nil {
			t.Fatal(err)
		}
	}
	acquire := func(s *checkpoint.Store, want bool) checkpoint.Lease {
		t.Helper()
		l, err := s.Acquire(ctx, acct, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if l.Unfinished != want {
			t.Fatalf("Unfinished = %v, want %v", l.Unfinished, want)
		}
		// With it comes when the previous holder took the account.
		if taken := time.Since(l.PrevTaken); want && (taken < 0 || taken > time.Minute) || !want && !l.PrevTaken.IsZero() {
			t.Fatalf("PrevTaken = %v (%v ago)", l.PrevTaken, taken)
		}
		return l
	}
	acquire(a, false) // the first holder ever
	acquire(a, false) // extending its own lease
	lapse(a)
	acquire(a, false) // its own lease lapsed: it knows what it left
	lapse(a)
	lb := acquire(b, true) // a's lease lapsed unreleased
	if err := b.Release(ctx, lb); err != nil {
		t.Fatal(err)
	}
	la := acquire(a, false) // b released it cleanly
	if err := a.Abandon(ctx, la); err != nil {
		t.Fatal(err)
	}
	lb = acquire(b, true) // a abandoned it
	first := lb.PrevTaken
	lapse(b)
	if again := acquire(a, true); !again.PrevTaken.Equal(first) { // b died too: a learns when a took it
		t.Fatalf("after two holders that did not finish: PrevTaken %v, want the first's %v", again.PrevTaken, first)
	}
	lapse(a)
	lb = acquire(b, true)
	lapse(b)
	if err := b.Release(ctx, lb); err != nil {
		t.Fatal(err)
	}
	acquire(a, false) // b's release came after its lease lapsed, and still counts
}
