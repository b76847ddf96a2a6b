package pollers_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// opaque is a provider that hands its client's errors on as text only,
// as a careless one might.
type opaque struct{ pollers.Provider }

func (p opaque) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	page, err := p.Provider.ListThreads(ctx, q)
	if err != nil {
		return page, errors.New(err.Error())
	}
	return page, nil
}

// TestUnchangedPagesOpaqueProvider: a provider that does not pass the
// transport's errors on still works; its pages are read in full, every
// walk, with one warning.
func TestUnchangedPagesOpaqueProvider(t *testing.T) {
	t.Parallel()
	shop := pollerstest.NewShop(t, 6, 2, nil)
	w := pollerstest.NewWorld(t)
	a := shop.Account("opaque", map[string]string{"page_size": "2"})
	mirakl := pollerstest.Mirakl.Factory
	e := w.Engine(pollers.Config{Providers: map[string]pollers.Factory{a.Provider: func(a pollers.Account, c *http.Client) (pollers.Provider, error) {
		p, err := mirakl(a, c)
		return opaque{p}, err
	}}}, a)
	pollerstest.PollOnce(t, e, a)
	for i := range 3 {
		st := pollerstest.PollOnce(t, e, a)
		if st.Same != 0 || st.Events != 0 {
			t.Fatalf("walk %d: %d pages skipped, %d events; want none", i+2, st.Same, st.Events)
		}
	}
	th := shop.Threads(pollerstest.MiraklShop)[0].ID
	shop.AddMessage(pollerstest.MiraklShop, th, miraklsim.Customer, "still there?", time.Time{})
	if st := pollerstest.PollOnce(t, e, a); st.Events == 0 {
		t.Fatalf("walk after a new message published nothing: %+v", st)
	}
	if n := strings.Count(w.Logs.String(), "unchanged pages are read in full"); n != 1 {
		t.Fatalf("%d warnings about the provider, want 1:\n%s", n, w.Logs.String())
	}
}
