package mirakl_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
)

// TestThreadMovingDuringWalk: a thread answered while the walk is under way
// moves behind the keyset cursor and is listed again later in the same
// walk. It must yield its new message once, and nothing twice, even though
// the page that first listed it may not be committed yet.
func TestThreadMovingDuringWalk(t *testing.T) {
	t.Parallel()
	sim := miraklsim.New(miraklsim.Config{})
	key := randomKey()
	sim.AddShop(shopID, key)
	sim.Seed(shopID, 6, 2, time.Time{})
	first := sim.Threads(shopID)[0].ID // oldest: on the first page
	var lists atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		if r.URL.Path == "/api/inbox/threads" && lists.Add(1) == 1 {
			sim.AddMessage(shopID, first, miraklsim.Customer, "still there?", time.Time{})
		}
	}))
	defer srv.Close()

	store, _ := checkpointtest.NewStore(t)
	js := eventstest.Start(t)
	acct := pollers.Account{
		Provider: mirakl.Name, ID: "moving", BaseURL: srv.URL, Token: key, InitialSync: pollers.SyncFull,
		Options: map[string]string{"shop_id": shopID, "page_size": "4", "requests_per_second": "1000"},
	}
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: js.Publisher,
		Providers: map[string]pollers.Factory{mirakl.Name: mirakl.New},
	}, []pollers.Account{acct})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.PollOnce(context.Background(), acct.Provider, acct.ID)
	if err != nil || !st.Completed {
		t.Fatalf("walk: %+v %v", st, err)
	}
	// Two pages: the moved thread comes back on the page right after the
	// one that first listed it, before that one is committed.
	if st.Threads != 7 || st.Pages != 2 {
		t.Fatalf("walk listed %d threads in %d pages, want 7 (6 and the moved one again) in 2", st.Threads, st.Pages)
	}
	got := js.ReadAll(t)
	// 6 created, 12 seeded messages + 1 new, and reply-needed for the
	// threads whose last message is the customer's.
	var pending int
	for _, th := range sim.Threads(shopID) {
		if th.ReplyNeededSince != nil {
			pending++
		}
	}
	if want := 6 + 13 + pending; len(got) != want {
		t.Fatalf("stream holds %d events, want %d", len(got), want)
	}
	if st.Events != len(got) {
		t.Fatalf("walk sent %d events for %d distinct ones: the moved thread was derived from a stale state", st.Events, len(got))
	}
}
