package pollers_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestUpdateAccounts changes a running engine's accounts: a removed account
// stops and releases its lease, an added one syncs, an unchanged one goes on
// undisturbed, a changed one restarts with its new settings, and an invalid
// list changes nothing.
func TestUpdateAccounts(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	newAccount := func(id string) pollers.Account { return waitingAccount(t, h, id, 5, "hello from "+id) }
	a, b, c := newAccount("a"), newAccount("b"), newAccount("c")
	w := pollerstest.NewWorld(t)
	store, js := w.Store, w.JS
	e := w.Engine(pollers.Config{}, a, b)
	w.Run(e)

	perAccount := uint64(3) // ThreadCreated, MessageReceived, ReplyNeeded
	awaitEvents := func(n uint64) {
		t.Helper()
		w.Until(fmt.Sprintf("%d events on the stream", n), func() bool { return js.Count(t) >= n })
	}
	awaitEvents(2 * perAccount)
	bStatus := statusOf(e, b)

	added, removed, changed, err := e.Update(context.Background(), []pollers.Account{b, c})
	if err != nil || added != 1 || removed != 1 || changed != 0 {
		t.Fatalf("Update: added %d removed %d changed %d, %v; want 1 1 0", added, removed, changed, err)
	}
	// Update returns once the removed account's loop has stopped.
	if free, err := store.LeaseFree(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}); err != nil || !free {
		t.Fatalf("the removed account's lease is still held: %v %v", free, err)
	}
	awaitEvents(3 * perAccount)
	for _, st := range e.Status() {
		if st.Account == a.String() {
			t.Fatalf("the removed account is still in the status: %+v", st)
		}
	}
	if st := statusOf(e, b); st.LastSuccess.Before(bStatus.LastSuccess) || st.Failures != 0 {
		t.Fatalf("the unchanged account was disturbed: before %+v, after %+v", bStatus, st)
	}

	b2 := b
	b2.Options = map[string]string{"shop_id": b.Options["shop_id"], "page_size": "2"}
	if _, _, changed, err := e.Update(context.Background(), []pollers.Account{b2, c}); err != nil || changed != 1 {
		t.Fatalf("Update with b's page size changed: changed %d, %v", changed, err)
	}
	bad := c
	bad.ID = "no.dots"
	if _, _, _, err := e.Update(context.Background(), []pollers.Account{b2, bad}); err == nil {
		t.Fatal("an invalid account list was accepted")
	}
	if n := len(e.Status()); n != 2 {
		t.Fatalf("%d accounts after a refused update, want 2", n)
	}
	h.AddThread(t, b2, "still there?")
	awaitEvents(4 * perAccount) // b, polled by its new loop, sees the new thread
	if n := js.Count(t); n != 4*perAccount {
		t.Fatalf("stream holds %d events, want %d: an account was synced twice", n, 4*perAccount)
	}
}

func statusOf(e *pollers.Engine, a pollers.Account) pollers.AccountStatus {
	for _, st := range e.Status() {
		if st.Account == a.String() {
			return st
		}
	}
	return pollers.AccountStatus{}
}
