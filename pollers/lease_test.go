package pollers_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestSlowPageKeepsItsLease: a page that sits out a Retry-After longer
// than the lease lives keeps the account, so that no other worker polls it
// beside this one.
func TestSlowPageKeepsItsLease(t *testing.T) {
	t.Parallel()
	refused := make(chan struct{}, 1)
	shop := pollerstest.NewShop(t, 3, 1, on429(func() { refused <- struct{}{} }))
	shop.InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusTooManyRequests, RetryAfter: "1"})
	w := pollerstest.NewWorld(t)
	a := shop.Account("slow", nil)
	e := w.Engine(pollers.Config{LeaseTTL: 300 * time.Millisecond}, a)
	done := make(chan error, 1)
	go func() {
		_, err := e.PollOnce(context.Background(), a.Provider, a.ID)
		done <- err
	}()
	<-refused
	// Past the lease's lifetime, while the page waits out its Retry-After.
	time.Sleep(600 * time.Millisecond)
	if _, err := w.Replica().Acquire(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}, time.Second); !errors.Is(err, checkpoint.ErrLeaseHeld) {
		t.Fatalf("another worker's Acquire during the slow page: %v, want ErrLeaseHeld", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("slow poll: %v", err)
	}
}
