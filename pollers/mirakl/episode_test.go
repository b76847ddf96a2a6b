package mirakl_test

import (
	"context"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestNoReplyNeededResolves: the shop marks a waiting thread "no reply
// needed"; Mirakl clears shop_reply_needed_since with no shop message, and
// the episode ends as no_reply_needed. The customer's next message opens a
// new one.
func TestNoReplyNeededResolves(t *testing.T) {
	t.Parallel()
	h := pollerstest.NewSimHarness(pollerstest.Mirakl)
	a := h.NewAccount(t, "no-reply", 10)
	w := pollerstest.NewWorld(t)
	e := w.Engine(pollers.Config{}, a)
	poll := func() {
		t.Helper()
		if _, err := e.PollOnce(context.Background(), a.Provider, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	th := h.AddThread(t, a, "thanks, all good")
	poll()
	h.Sim(a).MarkNoReplyNeeded(pollerstest.MiraklShop, th, miraklsim.Shop, time.Time{})
	poll()
	h.AddMessage(t, a, th, events.Inbound, "one more thing")
	poll()
	var got []string
	var res *events.ReplyResolvedData
	for _, r := range w.JS.ReadAll(t) {
		got = append(got, string(r.Envelope.Type))
		if r.Envelope.Type == events.ReplyResolved {
			d, _ := events.DecodeData(r.Envelope)
			res = d.(*events.ReplyResolvedData)
		}
	}
	want := []string{"ThreadCreated", "MessageReceived", "ReplyNeeded", "ReplyResolved", "MessageReceived", "ReplyNeeded"}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if res.Resolution != events.NoReplyNeeded || res.AnswerMessageID != "" || res.ResolvedAt.Before(res.NeededSince) {
		t.Fatalf("ReplyResolved %+v, want no_reply_needed", res)
	}
}
