package partizaptest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/sim"
)

// TestSustain checks the harness's sustained faults through the Partizap
// client: they reach the account's every endpoint, Observed sees its
// requests, and no rules clear them.
func TestSustain(t *testing.T) {
	t.Parallel()
	h := NewHarness()
	a := h.NewAccount(t, "sustained", 10)
	h.Seed(t, a, 2, 2)
	p, err := h.Factory()(a, &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h.Sustain(t, a, sim.Rule{Every: 2, Status: http.StatusServiceUnavailable})
	page, err := p.ListThreads(ctx, pollers.Query{})
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("request 1: %+v, %v", page, err)
	}
	var he *pollers.HTTPError
	if _, err := p.Messages(ctx, &page.Items[0], pollers.MessageCursor{}); !errors.As(err, &he) || he.Status != http.StatusServiceUnavailable {
		t.Fatalf("request 2, a message fetch: %v, want HTTP 503", err)
	}
	if o := h.Observed(t, a); o.Requests < 2 || o.Status[http.StatusServiceUnavailable] < 1 {
		t.Fatalf("observed %+v", o)
	}
	h.Sustain(t, a)
	for range 2 {
		if _, err := p.Messages(ctx, &page.Items[0], pollers.MessageCursor{}); err != nil {
			t.Fatalf("after clearing: %v", err)
		}
	}
}
