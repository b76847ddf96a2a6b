package pollers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestSlowPageKeepsItsLease: a page that sits out a Retry-After longer
// than the lease lives keeps the account, so that no other worker polls it
// beside this one.
func TestSlowPageKeepsItsLease(t *testing.T) {
	t.Parallel()
	sim := miraklsim.New(miraklsim.Config{})
	key := pollerstest.Mirakl.Token()
	sim.AddShop(pollerstest.MiraklShop, key)
	sim.Seed(pollerstest.MiraklShop, 3, 1, time.Time{})
	sim.InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusTooManyRequests, RetryAfter: "1"})
	refused := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		sim.ServeHTTP(rec, r)
		if rec.status == http.StatusTooManyRequests {
			refused <- struct{}{}
		}
	}))
	defer srv.Close()
	store, rdb := checkpointtest.NewStore(t)
	js := eventstest.Start(t)
	a := pollers.Account{Provider: mirakl.Name, ID: "slow", BaseURL: srv.URL, Token: key,
		Options: map[string]string{"shop_id": pollerstest.MiraklShop}}
	e, err := pollers.New(pollers.Config{
		Store: store, Publisher: js.Publisher, LeaseTTL: 300 * time.Millisecond,
		Providers: map[string]pollers.Factory{mirakl.Name: mirakl.New},
	}, []pollers.Account{a})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.PollOnce(context.Background(), a.Provider, a.ID)
		done <- err
	}()
	<-refused
	// Past the lease's lifetime, while the page waits out its Retry-After.
	time.Sleep(600 * time.Millisecond)
	prefix := store.Keys(checkpoint.Account{Provider: "p", ID: "a"}).Cursor
	other, err := checkpoint.New(rdb, prefix[:len(prefix)-len(":{p:a}:cursor")])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Acquire(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}, time.Second); !errors.Is(err, checkpoint.ErrLeaseHeld) {
		t.Fatalf("another worker's Acquire during the slow page: %v, want ErrLeaseHeld", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("slow poll: %v", err)
	}
}
