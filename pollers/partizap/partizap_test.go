package partizap_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// vendorID serves the Partizap-specific tests of this package.
const vendorID = pollerstest.PartizapVendor

func newHarness() *pollerstest.SimHarness[*partizapsim.Server] {
	return pollerstest.NewSimHarness(pollerstest.Partizap(partizapsim.Config{}, nil))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// TestConformanceOtherShapes runs the suite against the other API shapes
// partizap.md leaves possible: ids as strings, zone-less local times, an
// offset cursor over an oldest-first list, messages oldest first at another
// path.
func TestConformanceOtherShapes(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, pollerstest.NewSimHarness(pollerstest.Partizap(partizapsim.Config{
		IDsAsStrings:  true,
		TimeLayout:    time.DateTime,
		OffsetCursor:  true,
		Order:         partizapsim.OldestFirst,
		MessagesOrder: partizapsim.OldestFirst,
		MessagesPath:  "/vendor/chats/{id}/messages",
	}, map[string]string{"messages_path": "/vendor/chats/{id}/messages", "messages_page_size": "2"})))
}

// engineOf is an account of the harness h, polled by an engine of a world
// of its own with the factory watched by watch (when not nil).
func engineOf(t *testing.T, h *pollerstest.SimHarness[*partizapsim.Server], watch func(pollers.Account) *pollerstest.Watch) (pollers.Account, func() pollers.Stats, *pollerstest.World) {
	a := h.NewAccount(t, "vendor", 4)
	w := pollerstest.NewWorld(t)
	cfg := pollers.Config{}
	if watch != nil {
		cfg.Providers = map[string]pollers.Factory{partizap.Name: watch(a).Factory(partizap.New)}
	}
	e := w.Engine(cfg, a)
	return a, func() pollers.Stats { t.Helper(); return pollerstest.PollOnce(t, e, a) }, w
}

// TestReadIsNotNews: reading conversations moves their updated_at (and
// their place in the list) but adds no message, so it costs no message
// request and publishes nothing.
func TestReadIsNotNews(t *testing.T) {
	t.Parallel()
	h := newHarness()
	a, poll, w := engineOf(t, h, nil)
	sim := h.Sim(a)
	sim.Seed(vendorID, 10, 3, time.Time{})
	poll()
	n := w.JS.Count(t)
	for _, th := range sim.Threads(vendorID)[:5] {
		sim.MarkRead(vendorID, th.ID, time.Time{})
	}
	if st := poll(); st.Fetches != 0 || st.Events != 0 || w.JS.Count(t) != n {
		t.Fatalf("poll after reads: %+v", st)
	}
}

// TestOffsetPaginationOff: with an offset cursor over an oldest-first
// list, a conversation answered during a walk moves to the end and shifts
// the others back, so one is skipped. Told the cursor is no offset
// (offset_pagination false), the engine does not look for the repeat and
// the walk misses the skipped one, which the next walk publishes; the
// conformance suite shows the default finding it in the same walk.
func TestOffsetPaginationOff(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Partizap(partizapsim.Config{OffsetCursor: true, Order: partizapsim.OldestFirst},
		map[string]string{"offset_pagination": "false"}))
	var watch *pollerstest.Watch
	a, poll, w := engineOf(t, h, func(a pollers.Account) *pollerstest.Watch { watch = pollerstest.NewWatch(a); return watch })
	sim := h.Sim(a)
	sim.Seed(vendorID, 6, 1, time.Time{})
	truth := sim.Threads(vendorID)
	watch.After(1, func() { sim.AddMessage(vendorID, truth[0].ID, partizapsim.Vendor, "answered", time.Time{}) })
	skipped := strconv.FormatInt(truth[4].ID, 10)
	created := func() map[string]bool {
		out := map[string]bool{}
		for _, r := range w.JS.ReadAll(t) {
			if r.Envelope.Type == events.ThreadCreated {
				out[r.Envelope.Subject] = true
			}
		}
		return out
	}
	if st, c := poll(), created(); st.Rescans != 0 || c[skipped] || len(c) != 5 {
		t.Fatalf("walk: %+v, created %v; want thread %s skipped without drift detection", st, c, skipped)
	}
	if st, c := poll(), created(); !c[skipped] || len(c) != 6 {
		t.Fatalf("next walk: %+v, created %v; want thread %s", st, c, skipped)
	}
}
