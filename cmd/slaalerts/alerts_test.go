package main

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
)

var testOrigin = events.Origin{Prefix: "inbox", Provider: "olx", Account: "acc-1"}

func mustJSON(t *testing.T, ev events.Event) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeEvent: the subject says whether slaalerts acts on a message;
// on an SLA subject, a payload that is not that event is undecodable.
func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	since := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	sla := events.SLA{Policy: "p", DueAt: since.Add(time.Hour), WarnAt: since.Add(50 * time.Minute)}
	warning := events.NewReplySLAWarning(testOrigin, "t", since, sla, true)
	needed := events.NewReplyNeeded(testOrigin, "t", since, "m")
	noThread := events.NewReplySLABreached(testOrigin, "", since, sla, true)
	for _, c := range []struct {
		name, subject string
		payload       []byte
		ok, bad       bool
	}{
		{"warning", warning.Subject, mustJSON(t, warning), true, false},
		{"reply needed: skipped", needed.Subject, mustJSON(t, needed), false, false},
		{"garbage on another subject: skipped", "inbox.olx.acc-1.reply.escalated", []byte("{"), false, false},
		{"garbage", warning.Subject, []byte("{"), true, true},
		{"not CloudEvents", warning.Subject, []byte(`{"hello":1}`), true, true},
		{"type the subject does not name", testOrigin.Subject(events.ReplySLABreached), mustJSON(t, warning), true, true},
		{"no thread", noThread.Subject, mustJSON(t, noThread), true, true},
	} {
		ev, ok, err := decodeEvent(c.subject, c.payload)
		if c.bad {
			if !errors.Is(err, errUndecodable) {
				t.Errorf("%s: error %v, want errUndecodable", c.name, err)
			}
			continue
		}
		if err != nil || ok != c.ok {
			t.Errorf("%s: ok %v, error %v; want ok %v", c.name, ok, err, c.ok)
		}
		if ok && (ev.SLA == nil || ev.ID != warning.ID || !ev.Time.Equal(sla.WarnAt)) {
			t.Errorf("%s: decoded %+v", c.name, ev)
		}
	}
}

func slaEventOf(t *testing.T, ev events.Event) slaEvent {
	t.Helper()
	got, ok, err := decodeEvent(ev.Subject, mustJSON(t, ev))
	if err != nil || !ok {
		t.Fatalf("decode %s: ok %v, %v", ev.Type, ok, err)
	}
	return got
}

// TestResolveEndsAt: a resolution's endsAt is resolved_at, but never
// ahead of now (it would keep the alert firing) nor before the alert's
// startsAt (Alertmanager would reject it).
func TestResolveEndsAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	since := now.Add(-3 * time.Hour)
	sla := events.SLA{Policy: "p", DueAt: now.Add(-time.Hour), WarnAt: now.Add(-2 * time.Hour)}
	for _, c := range []struct {
		name       string
		resolvedAt time.Time
		want       [2]time.Time // warning, breach
	}{
		{"after both", now.Add(-time.Minute), [2]time.Time{now.Add(-time.Minute), now.Add(-time.Minute)}},
		{"ahead of now", now.Add(time.Hour), [2]time.Time{now, now}},
		{"between warning and deadline", now.Add(-90 * time.Minute), [2]time.Time{now.Add(-90 * time.Minute), sla.DueAt}},
	} {
		tr := newTracker(time.Minute, 24*time.Hour, "")
		tr.apply(slaEventOf(t, events.NewReplySLAWarning(testOrigin, "t", since, sla, true)), now, false)
		tr.apply(slaEventOf(t, events.NewReplySLABreached(testOrigin, "t", since, sla, false)), now, false)
		res := slaEventOf(t, events.NewReplyResolved(testOrigin, "t", events.Resolved{NeededSince: since, At: c.resolvedAt, How: events.Answered, Business: -1}))
		got := tr.apply(res, now, false)
		if len(got) != 2 {
			t.Fatalf("%s: %d alerts resolved, want 2", c.name, len(got))
		}
		for _, a := range got {
			k := warning
			if a.Labels["alertname"] == "ReplySLABreached" {
				k = breach
			}
			if !a.EndsAt.Equal(c.want[k]) {
				t.Errorf("%s: %s ends at %s, want %s", c.name, a.Labels["alertname"], a.EndsAt, c.want[k])
			}
			if a.EndsAt.Before(a.StartsAt) {
				t.Errorf("%s: %s ends at %s before it starts at %s", c.name, a.Labels["alertname"], a.EndsAt, a.StartsAt)
			}
		}
		// Delivered again, the resolution is posted again, the same.
		if again := tr.apply(res, now.Add(time.Minute), false); len(again) != 2 {
			t.Errorf("%s: a resolution applied again posts %d alerts, want 2", c.name, len(again))
		}
		if act := tr.active(now); len(act) != 0 {
			t.Errorf("%s: %d alerts still active after the resolution", c.name, len(act))
		}
	}
}

// TestTrackerEpisodes: resolutions of episodes without alerts post
// nothing; a warning after its episode's resolution does not fire; an old
// warning of an unknown episode fires when rebuilding but not live; active
// alerts are leased for four re-send intervals; pruning forgets only
// episodes resolved long enough ago.
func TestTrackerEpisodes(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	tr := newTracker(time.Minute, 24*time.Hour, "")
	sla := func(since time.Time) events.SLA {
		return events.SLA{Policy: "p", DueAt: since.Add(time.Hour), WarnAt: since.Add(50 * time.Minute)}
	}
	resolved := func(thread string, since, at time.Time) slaEvent {
		return slaEventOf(t, events.NewReplyResolved(testOrigin, thread, events.Resolved{NeededSince: since, At: at, How: events.Closed, Business: -1}))
	}

	quiet := now.Add(-2 * time.Hour)
	if got := tr.apply(resolved("quiet", quiet, now), now, false); got != nil {
		t.Errorf("a resolution without alerts posts %v", got)
	}

	since := now.Add(-3 * time.Hour)
	tr.apply(resolved("late", since, now.Add(-time.Hour)), now, false) // unknown: nothing kept
	tr.apply(slaEventOf(t, events.NewReplySLAWarning(testOrigin, "late", since, sla(since), true)), now, false)
	tr.apply(resolved("late", since, now.Add(-time.Hour)), now, false)
	if got := tr.apply(slaEventOf(t, events.NewReplySLABreached(testOrigin, "late", since, sla(since), true)), now, false); got != nil {
		t.Errorf("a breach after its episode's resolution posts %v", got)
	}

	old := now.Add(-30 * 24 * time.Hour)
	oldWarning := slaEventOf(t, events.NewReplySLAWarning(testOrigin, "old", old, sla(old), true))
	if got := tr.apply(oldWarning, now, false); got != nil {
		t.Errorf("a month-old warning of an unknown episode fires live: %v", got)
	}
	if got := tr.apply(oldWarning, now, true); len(got) != 1 {
		t.Errorf("a month-old open episode found while rebuilding posts %d alerts, want 1", len(got))
	}

	open := now.Add(-90 * time.Minute)
	tr.apply(slaEventOf(t, events.NewReplySLABreached(testOrigin, "open", open, sla(open), true)), now, false)
	act := tr.active(now)
	if len(act) != 2 {
		t.Fatalf("%d active alerts, want the old and the open episodes'", len(act))
	}
	for _, a := range act {
		if !a.EndsAt.Equal(now.Add(4 * time.Minute)) {
			t.Errorf("active %s leased until %s, want now+4m", a.Labels["thread_id"], a.EndsAt)
		}
	}

	tr.prune(now.Add(22 * time.Hour))
	if o, r := tr.counts(); o != 2 || r != 1 {
		t.Errorf("after 22h: %d open, %d resolved episodes; want 2 and 1", o, r)
	}
	tr.prune(now.Add(24 * time.Hour))
	if o, r := tr.counts(); o != 2 || r != 0 {
		t.Errorf("after 24h: %d open, %d resolved episodes; want 2 and 0", o, r)
	}
}
