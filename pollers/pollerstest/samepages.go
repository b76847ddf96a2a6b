package pollerstest

import (
	"testing"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// testUnchangedPagesSkipped: pages answered exactly as in a walk that
// found nothing on them are not diffed again; a change on any page and a
// thread the list did not show before are still published once, and the
// walk after another worker held the account reads every page again.
func testUnchangedPagesSkipped(t *testing.T, h Harness) {
	f, a, e := synced(t, h, 3*pageSize)
	full := func(what string) pollers.Stats {
		t.Helper()
		st := f.poll(e, a)
		if st.Same != 0 || st.Events != 0 {
			t.Fatalf("%s: %d pages skipped, %d events; want every page read, nothing published (%+v)", what, st.Same, st.Events, st)
		}
		return st
	}
	quiet := func(what string) {
		t.Helper()
		before := h.Requests(t, a)
		st := f.poll(e, a)
		after := h.Requests(t, a)
		switch {
		case st.Events != 0 || after.Messages != before.Messages:
			t.Fatalf("%s: %d events, %d message requests; want none", what, st.Events, after.Messages-before.Messages)
		case st.Same != st.Pages || st.Pages == 0:
			t.Fatalf("%s: %d of %d pages skipped, want all (%+v)", what, st.Same, st.Pages, st)
		case !h.Features().IncrementalList && st.Threads < 3*pageSize:
			t.Fatalf("%s: skipped walk counts %d threads, want at least %d", what, st.Threads, 3*pageSize)
		}
	}
	settled := func(what string) {
		t.Helper()
		if st := f.poll(e, a); st.Events != 0 {
			t.Fatalf("%s: %d events, want none (%+v)", what, st.Events, st)
		}
	}
	// The first walk after the initial one reads every page and finds
	// nothing; the walk after it skips them all.
	full("second walk")
	quiet("third walk")
	quiet("fourth walk")

	// A message on the thread listed last, a new thread: both published
	// once, although every page was remembered.
	truth := h.Truth(t, a)
	base := len(f.JS.ReadAll(t))
	old := truth[0].ID
	h.AddMessage(t, a, old, events.Inbound, "one more question")
	nt := h.AddThread(t, a, "new question")
	if st := f.poll(e, a); st.Events == 0 {
		t.Fatalf("walk after a change published nothing (%+v)", st)
	}
	got := f.JS.ReadAll(t)[base:]
	c := counts(t, got)
	if c.Created != 1 || c.Messages != 2 {
		t.Fatalf("after a change and a new thread: %+v (%v), want 1 created, 2 messages", c, types(got))
	}
	for _, r := range got {
		if r.Envelope.Subject != old && r.Envelope.Subject != nt {
			t.Fatalf("event for untouched thread %s", r.Envelope.Subject)
		}
	}
	// Pages after the changed one may be remembered already.
	settled("walk after the change")
	quiet("walk after that")

	// Another worker holds the account for a while: whatever it wrote,
	// the first walk back reads every page again.
	e.Release()
	other := f.engine(f.Replica())
	f.poll(other, a)
	other.Release()
	full("walk after another worker's")
	quiet("walk after that, again")
	if n := len(f.JS.ReadAll(t)); n != base+len(got) {
		t.Fatalf("stream holds %d events, want %d: quiet walks published", n, base+len(got))
	}
}
