package pollerstest

import (
	"context"
	"net/http"
	"slices"
	"sync"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// Watch records what one account's provider answers the engine, and acts
// between its pages: a thread moving, a token going stale or a message
// request failing at a given point of a walk, which a fault counted in
// requests cannot aim at. Make it with NewWatch and give the engine its
// Factory.
type Watch struct {
	account string
	mu      sync.Mutex
	lists   []List
	fetches []Fetch
	calls   int // ListThreads calls begun
	hooks   []hook
}

// List is one ListThreads call and its answer.
type List struct {
	Query pollers.Query
	Page  pollers.Page
	Err   error
}

// Fetch is one Messages call and its answer.
type Fetch struct {
	Thread string
	After  pollers.MessageCursor
	Got    []events.Message
	Err    error
}

type hook struct {
	call   int    // the ListThreads call it belongs to, from 1; 0 for any
	thread string // with call 0: the first call to list this thread
	after  bool   // once the call has its answer; else before it is made
	fn     func()
}

// NewWatch watches the provider of the account a.
func NewWatch(a pollers.Account) *Watch { return &Watch{account: a.ID} }

// Factory is f, with the provider of the watched account watched.
func (w *Watch) Factory(f pollers.Factory) pollers.Factory {
	return func(a pollers.Account, c *http.Client) (pollers.Provider, error) {
		p, err := f(a, c)
		if err != nil || a.ID != w.account {
			return p, err
		}
		return w.wrap(p), nil
	}
}

// wrap keeps the optional interfaces the engine looks for.
func (w *Watch) wrap(p pollers.Provider) pollers.Provider {
	wp := &watched{Provider: p, w: w}
	hint, hints := p.(pollers.RetryHinter)
	reset, resets := p.(pollers.DailyResetter)
	switch {
	case hints && resets:
		return struct {
			*watched
			pollers.RetryHinter
			pollers.DailyResetter
		}{wp, hint, reset}
	case hints:
		return struct {
			*watched
			pollers.RetryHinter
		}{wp, hint}
	case resets:
		return struct {
			*watched
			pollers.DailyResetter
		}{wp, reset}
	}
	return wp
}

// Before runs fn once, right before the n-th ListThreads call from now
// (from 1): the pages before it have had their messages read.
func (w *Watch) Before(n int, fn func()) { w.on(n, false, fn) }

// After runs fn once the n-th ListThreads call from now has its answer,
// before the engine reads the messages of the page.
func (w *Watch) After(n int, fn func()) { w.on(n, true, fn) }

// AfterListing runs fn once a ListThreads call from now lists the
// thread, before the engine reads the messages of the page.
func (w *Watch) AfterListing(threadID string, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hooks = append(w.hooks, hook{thread: threadID, after: true, fn: fn})
}

func (w *Watch) on(n int, after bool, fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hooks = append(w.hooks, hook{call: w.calls + n, after: after, fn: fn})
}

// run runs, and drops, the hooks due at this point of call, which listed
// page (when after).
func (w *Watch) run(call int, after bool, page pollers.Page) {
	w.mu.Lock()
	var due []func()
	w.hooks = slices.DeleteFunc(w.hooks, func(h hook) bool {
		lists := h.call == 0 && slices.ContainsFunc(page.Items, func(it pollers.Item) bool { return it.Thread.ID == h.thread })
		if (h.call == call || lists) && h.after == after {
			due = append(due, h.fn)
			return true
		}
		return false
	})
	w.mu.Unlock()
	for _, fn := range due {
		fn()
	}
}

// Lists are the ListThreads calls answered so far, and Fetches the
// Messages calls.
func (w *Watch) Lists() []List {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lists)
}

func (w *Watch) Fetches() []Fetch {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.fetches)
}

// Listed is the ids of the threads the lists from the i-th on listed, in
// their order, repeats included.
func (w *Watch) Listed(i int) []string {
	var ids []string
	for _, l := range w.Lists()[i:] {
		for _, it := range l.Page.Items {
			ids = append(ids, it.Thread.ID)
		}
	}
	return ids
}

// Walks splits the lists from the i-th on into walks: a walk begins where
// a list has no page token, or at the i-th.
func (w *Watch) Walks(i int) [][]List {
	var walks [][]List
	for j, l := range w.Lists()[i:] {
		if j == 0 || l.Query.Token == "" {
			walks = append(walks, nil)
		}
		walks[len(walks)-1] = append(walks[len(walks)-1], l)
	}
	return walks
}

// Drifted reports whether the engine must take the walk for one that may
// have skipped a thread: a page says so, or, with offset pagination, a
// thread is listed twice.
func Drifted(walk []List, offset bool) bool {
	seen := map[string]bool{}
	for _, l := range walk {
		if l.Page.Drift {
			return true
		}
		for _, it := range l.Page.Items {
			if seen[it.Thread.ID] && offset {
				return true
			}
			seen[it.Thread.ID] = true
		}
	}
	return false
}

// watched is a watched provider.
type watched struct {
	pollers.Provider
	w *Watch
}

func (p *watched) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	w := p.w
	w.mu.Lock()
	w.calls++
	call := w.calls
	w.mu.Unlock()
	w.run(call, false, pollers.Page{})
	page, err := p.Provider.ListThreads(ctx, q)
	rec := page
	rec.Items = slices.Clone(page.Items)
	w.mu.Lock()
	w.lists = append(w.lists, List{Query: q, Page: rec, Err: err})
	w.mu.Unlock()
	w.run(call, true, page)
	return page, err
}

func (p *watched) Messages(ctx context.Context, it *pollers.Item, after pollers.MessageCursor) ([]events.Message, error) {
	msgs, err := p.Provider.Messages(ctx, it, after)
	p.w.mu.Lock()
	p.w.fetches = append(p.w.fetches, Fetch{Thread: it.Thread.ID, After: after, Got: slices.Clone(msgs), Err: err})
	p.w.mu.Unlock()
	return msgs, err
}
