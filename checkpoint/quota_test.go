package checkpoint_test

import (
	"context"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
)

// TestQuotaSharedByReplicas: two stores on the same Redis and prefix (two
// replicas) spend one budget, and a pause set through one holds for the
// other, by Redis's clock.
func TestQuotaSharedByReplicas(t *testing.T) {
	t.Parallel()
	replica, _ := checkpointtest.Replicas(t)
	a, b := replica(), replica()
	ctx := context.Background()

	// 2 requests per second with a burst of 2: four takes in a row, from
	// either replica, let two through.
	allowed := 0
	var wait time.Duration
	for i := range 4 {
		s := a
		if i%2 == 1 {
			s = b
		}
		d, err := s.TakeQuota(ctx, "portal-1", 2)
		if err != nil {
			t.Fatal(err)
		}
		if d == 0 {
			allowed++
		} else {
			wait = d
		}
	}
	if allowed != 2 || wait <= 0 || wait > time.Second {
		t.Fatalf("4 takes of a 2/s budget across two replicas: %d allowed, last wait %s; want 2 and a wait under 1s", allowed, wait)
	}

	if err := a.PauseQuota(ctx, "portal-1", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	// A shorter pause does not shorten it.
	if err := b.PauseQuota(ctx, "portal-1", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d, err := b.TakeQuota(ctx, "portal-1", 2)
	if err != nil || d < 2*time.Second || d > 3*time.Second {
		t.Fatalf("take during a 3s pause set by the other replica: wait %s, %v", d, err)
	}
	if _, err := a.TakeQuota(ctx, "bad{name}", 1); err == nil {
		t.Fatal("a quota name with braces was accepted")
	}
	if _, err := a.TakeQuota(ctx, "q", 0); err == nil {
		t.Fatal("a zero rate was accepted")
	}
}

// TestQuotaFractionalRate: a budget below one request per second spaces
// requests by its emission interval.
func TestQuotaFractionalRate(t *testing.T) {
	t.Parallel()
	s, _ := checkpointtest.NewStore(t)
	ctx := context.Background()
	if d, err := s.TakeQuota(ctx, "slow", 0.5); err != nil || d != 0 {
		t.Fatalf("first take: %s, %v", d, err)
	}
	d, err := s.TakeQuota(ctx, "slow", 0.5)
	if err != nil || d < 1500*time.Millisecond || d > 2*time.Second {
		t.Fatalf("second take of a 0.5/s budget: wait %s, %v; want about 2s", d, err)
	}
}
