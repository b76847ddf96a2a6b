package pollers_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// pager is a provider whose list is produced by a function, to drive the
// engine through pagination a real API should never produce.
type pager struct {
	next func(token string) string
}

func (p *pager) Features() pollers.Features { return pollers.Features{} }

func (p *pager) ListThreads(_ context.Context, q pollers.Query) (pollers.Page, error) {
	id := "t-" + q.Token
	return pollers.Page{
		Items: []pollers.Item{{Thread: events.Thread{ID: id, CreatedAt: time.Unix(1, 0)}, Version: "1", Messages: []events.Message{}, MessagesComplete: true}},
		Next:  p.next(q.Token),
	}, nil
}

func (p *pager) Messages(context.Context, *pollers.Item, pollers.MessageCursor) ([]events.Message, error) {
	return nil, nil
}

func pagerEngine(t *testing.T, p *pager, maxPages int) *pollers.Engine {
	t.Helper()
	return providerEngine(t, p, pollers.Config{MaxPages: maxPages})
}

// providerEngine is an engine of one account, of the provider p.
func providerEngine(t *testing.T, p pollers.Provider, cfg pollers.Config) *pollers.Engine {
	t.Helper()
	cfg.Providers = map[string]pollers.Factory{"fake": func(pollers.Account, *http.Client) (pollers.Provider, error) { return p, nil }}
	return pollerstest.NewWorld(t).Engine(cfg, pollers.Account{Provider: "fake", ID: "a", BaseURL: "http://127.0.0.1", Token: "x"})
}

func TestPaginationLoopIsAnError(t *testing.T) {
	t.Parallel()
	// Page tokens 1, 2, 3, 1, ...: the walk would never end.
	p := &pager{next: func(tok string) string {
		n, _ := strconv.Atoi(tok)
		return strconv.Itoa(n%3 + 1)
	}}
	_, err := pagerEngine(t, p, 1000).PollOnce(context.Background(), "fake", "a")
	if !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("repeating page token: %v, want ErrMalformed", err)
	}
}

func TestEndlessNextIsAnError(t *testing.T) {
	t.Parallel()
	p := &pager{next: func(tok string) string {
		n, _ := strconv.Atoi(tok)
		return strconv.Itoa(n + 1)
	}}
	st, err := pagerEngine(t, p, 25).PollOnce(context.Background(), "fake", "a")
	if !errors.Is(err, pollers.ErrMalformed) {
		t.Fatalf("endless next: %v, want ErrMalformed", err)
	}
	if st.Pages > 25 {
		t.Fatalf("walked %d pages past the bound of 25", st.Pages)
	}
}

// sinceRecorder is an incremental provider whose list is not ordered by
// update time; it records the Since of every query.
type sinceRecorder struct {
	items []pollers.Item
	since []time.Time
}

func (p *sinceRecorder) Features() pollers.Features {
	return pollers.Features{IncrementalList: true}
}

func (p *sinceRecorder) ListThreads(_ context.Context, q pollers.Query) (pollers.Page, error) {
	p.since = append(p.since, q.Since)
	if q.Token == "" {
		return pollers.Page{Items: p.items[:1], Next: "2"}, nil
	}
	return pollers.Page{Items: p.items[1:]}, nil
}

func (p *sinceRecorder) Messages(context.Context, *pollers.Item, pollers.MessageCursor) ([]events.Message, error) {
	return nil, nil
}

// TestWatermarkNotPastWalkStart: a walk in id order meets, after a thread it
// already passed, one updated later than the walk began. The next walk must
// not start after the walk's own start, or the passed thread's later change
// would never be listed.
func TestWatermarkNotPastWalkStart(t *testing.T) {
	t.Parallel()
	now := time.Now()
	p := &sinceRecorder{items: []pollers.Item{
		{Thread: events.Thread{ID: "a"}, Version: "1", UpdatedAt: now.Add(-time.Hour), Messages: []events.Message{}, MessagesComplete: true},
		{Thread: events.Thread{ID: "b"}, Version: "1", UpdatedAt: now.Add(time.Hour), Messages: []events.Message{}, MessagesComplete: true},
	}}
	e := providerEngine(t, p, pollers.Config{SweepInterval: -1})
	before := time.Now()
	for range 2 {
		if _, err := e.PollOnce(context.Background(), "fake", "a"); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.since[len(p.since)-1]; got.IsZero() || got.After(before.Add(time.Second)) {
		t.Fatalf("second walk asked for threads since %v; the first began at %v", got, before)
	}
}
