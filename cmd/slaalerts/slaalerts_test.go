package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
)

// episodeAt is one reply-needed episode whose warning and deadline have
// passed, near the present (older ones would be taken for replays).
type episodeAt struct {
	o      events.Origin
	thread string
	since  time.Time
	sla    events.SLA
}

func newEpisode(env *eventstest.Env, thread string) episodeAt {
	now := time.Now().UTC().Truncate(time.Second)
	return episodeAt{
		o:      events.Origin{Prefix: env.Prefix, Provider: "mirakl", Account: "shop-2001"},
		thread: thread,
		since:  now.Add(-2 * time.Hour),
		sla:    events.SLA{Policy: "gold", DueAt: now.Add(-time.Minute), WarnAt: now.Add(-10 * time.Minute)},
	}
}

func (e episodeAt) warning() events.Event {
	return events.NewReplySLAWarning(e.o, e.thread, e.since, e.sla, true)
}

func (e episodeAt) breach(confirmed bool) events.Event {
	return events.NewReplySLABreached(e.o, e.thread, e.since, e.sla, confirmed)
}

func (e episodeAt) resolved(at time.Time) events.Event {
	sla := e.sla
	return events.NewReplyResolved(e.o, e.thread, events.Resolved{
		NeededSince: e.since, At: at, How: events.Answered, AnswerMessageID: "m-answer", SLA: &sla, Business: -1,
	})
}

// TestWarningAndBreachFireThenResolve follows one episode through the real
// JetStream, the real Router and a real Alertmanager: its warning and its
// breach become alerts with the episode's labels, and its ReplyResolved
// resolves both, while another thread's alert stays active.
func TestWarningAndBreachFireThenResolve(t *testing.T) {
	t.Parallel()
	env, am := startAll(t, map[string]string{
		"SLAALERTS_RESEND":        "1m",
		"SLAALERTS_GENERATOR_URL": "https://grafana.example/d/sla",
	})
	ep, other := newEpisode(env, "t-1"), newEpisode(env, "t-2")

	env.Publish(t, ep.warning(), other.warning())
	w := waitActive(t, am, "ReplySLAWarning", "t-1")
	wantLabels := map[string]string{
		"alertname": "ReplySLAWarning", "severity": "warning", "provider": "mirakl", "account": "shop-2001",
		"thread_id": "t-1", "policy": "gold", "needed_since": ep.since.Format(time.RFC3339),
	}
	checkLabels(t, w, wantLabels)
	if !w.StartsAt.Equal(ep.sla.WarnAt) {
		t.Errorf("warning starts at %s, want the warning time %s", w.StartsAt, ep.sla.WarnAt)
	}
	if w.GeneratorURL != "https://grafana.example/d/sla" {
		t.Errorf("generatorURL %q", w.GeneratorURL)
	}

	env.Publish(t, ep.breach(true))
	b := waitActive(t, am, "ReplySLABreached", "t-1")
	wantLabels["alertname"], wantLabels["severity"] = "ReplySLABreached", "critical"
	checkLabels(t, b, wantLabels)
	if !b.StartsAt.Equal(ep.sla.DueAt) {
		t.Errorf("breach starts at %s, want the deadline %s", b.StartsAt, ep.sla.DueAt)
	}
	for k, want := range map[string]string{
		"needed_since": ep.since.Format(time.RFC3339), "due_at": ep.sla.DueAt.Format(time.RFC3339), "confirmed": "true",
	} {
		if b.Annotations[k] != want {
			t.Errorf("breach annotation %s = %q, want %q", k, b.Annotations[k], want)
		}
	}
	if d := b.Annotations["description"]; !strings.Contains(d, "Confirmed") || strings.Contains(d, "Unconfirmed") {
		t.Errorf("a confirmed breach's description: %q", d)
	}
	if s := b.Annotations["summary"]; !strings.Contains(s, "t-1") || strings.Contains(s, "unconfirmed") {
		t.Errorf("breach summary: %q", s)
	}
	// The warning is still active beside the breach (an inhibit rule in
	// Alertmanager silences it if wanted).
	waitActive(t, am, "ReplySLAWarning", "t-1")

	env.Publish(t, ep.resolved(time.Now()))
	waitGone(t, am, "ReplySLABreached", "t-1")
	waitGone(t, am, "ReplySLAWarning", "t-1")
	waitSettled(t, env, "slaalerts")
	if _, ok, err := am.Find("ReplySLAWarning", "t-2"); err != nil || !ok {
		t.Errorf("another thread's warning was resolved with t-1 (present %v, %v)", ok, err)
	}
}

func checkLabels(t *testing.T, a amAlert, want map[string]string) {
	t.Helper()
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
		return
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
}

// TestUnconfirmedBreach: a breach published on the last state known says
// so, and a resolution dated before the breach's start (the reply came
// before the deadline, the poll that would have seen it failed) still
// resolves it: Alertmanager would reject an endsAt before the startsAt.
func TestUnconfirmedBreach(t *testing.T) {
	t.Parallel()
	env, am := startAll(t, nil)
	ep := newEpisode(env, "t-unconfirmed")

	env.Publish(t, ep.breach(false))
	b := waitActive(t, am, "ReplySLABreached", "t-unconfirmed")
	if b.Annotations["confirmed"] != "false" {
		t.Errorf("confirmed annotation %q, want false", b.Annotations["confirmed"])
	}
	if d := b.Annotations["description"]; !strings.Contains(d, "Unconfirmed") {
		t.Errorf("an unconfirmed breach's description does not say so: %q", d)
	}
	if s := b.Annotations["summary"]; !strings.Contains(s, "(unconfirmed)") {
		t.Errorf("an unconfirmed breach's summary does not say so: %q", s)
	}

	env.Publish(t, ep.resolved(ep.sla.DueAt.Add(-5*time.Minute)))
	waitGone(t, am, "ReplySLABreached", "t-unconfirmed")
	waitSettled(t, env, "slaalerts")
}

// TestAlertmanagerOutage: with Alertmanager down, the breach is not lost:
// the handler fails, the message is nacked and delivered again until
// Alertmanager is back, and then the alert arrives. The re-send interval
// is long, so the alert can only arrive through the redelivery.
func TestAlertmanagerOutage(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	am := startAlertmanager(t)
	addr := newProxy(t, am.Addr) // Alertmanager's address throughout
	am.Stop()
	startService(t, env, addr.URL, map[string]string{"SLAALERTS_RESEND": "10m"})
	ep := newEpisode(env, "t-outage")

	env.Publish(t, ep.breach(true))
	eventually(t, 60*time.Second, "the breach delivered again after a failure", func() (bool, string) {
		c, ok := consumer(t, env, "slaalerts")
		if !ok {
			return false, "no consumer yet"
		}
		return c.NumRedelivered >= 1, fmt.Sprintf("delivered %d, redelivered %d", c.Delivered.Consumer, c.NumRedelivered)
	})

	// Back up: a new process (Alertmanager keeps no alerts across restarts).
	am = startAlertmanager(t)
	addr.SetUpstream(am.Addr)
	waitActive(t, am, "ReplySLABreached", "t-outage")
	waitSettled(t, env, "slaalerts")
}

// TestUndecodableEventsArePoisoned: events on the SLA subjects that cannot
// be decoded go to the poison queue (with the reason and their original
// id) and do not hold back the next event; other reply events (ReplyNeeded)
// are skipped, not poisoned.
func TestUndecodableEventsArePoisoned(t *testing.T) {
	t.Parallel()
	env, am := startAll(t, nil)
	ep := newEpisode(env, "t-after-poison")
	ctx := context.Background()

	garbage := nats.NewMsg(ep.o.Subject(events.ReplySLAWarning))
	garbage.Data = []byte("{not json")
	if _, err := env.JS.PublishMsg(ctx, garbage, jetstream.WithMsgID("garbage-1")); err != nil {
		t.Fatal(err)
	}
	// A well-formed event on the wrong subject: a ReplyNeeded as a breach.
	needed := events.NewReplyNeeded(ep.o, ep.thread, ep.since, "m-1")
	mislabelled := nats.NewMsg(ep.o.Subject(events.ReplySLABreached))
	mislabelled.Data, _ = json.Marshal(needed)
	if _, err := env.JS.PublishMsg(ctx, mislabelled, jetstream.WithMsgID("mislabelled-1")); err != nil {
		t.Fatal(err)
	}
	env.Publish(t, needed, ep.warning())

	waitActive(t, am, "ReplySLAWarning", "t-after-poison")
	waitSettled(t, env, "slaalerts")

	stream, err := env.JS.Stream(ctx, env.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(env.Prefix+".slaalerts.poison"))
	if err != nil {
		t.Fatal(err)
	}
	if n := info.State.Subjects[env.Prefix+".slaalerts.poison"]; n != 2 {
		t.Fatalf("%d messages in the poison queue, want 2", n)
	}
	got := map[string]*jetstream.RawStreamMsg{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil || m.Subject != env.Prefix+".slaalerts.poison" {
			continue
		}
		got[m.Header.Get("original_msg_id")] = m
	}
	for id, payload := range map[string][]byte{"garbage-1": garbage.Data, "mislabelled-1": mislabelled.Data} {
		m := got[id]
		if m == nil {
			t.Errorf("poison queue lacks %s; holds %v", id, got)
			continue
		}
		if string(m.Data) != string(payload) {
			t.Errorf("poisoned %s holds %q, want the original %q", id, m.Data, payload)
		}
		if r := m.Header.Get("reason_poisoned"); !strings.Contains(r, "undecodable event") {
			t.Errorf("poisoned %s: reason %q", id, r)
		}
		if s := m.Header.Get("subject"); !strings.HasPrefix(s, env.Prefix+".mirakl.shop-2001.reply.sla_") {
			t.Errorf("poisoned %s: original subject %q", id, s)
		}
	}
}

// TestRestartRebuildsActiveAlerts: slaalerts stops with a breach active;
// once the lease of its last post runs out Alertmanager resolves it by
// itself. The durable consumer will not deliver the acknowledged breach
// again, yet the restarted slaalerts rebuilds it from the stream and fires
// it anew (and not the warning of an episode resolved meanwhile), its
// re-sends keep it active past several leases, and a later ReplyResolved
// resolves it.
func TestRestartRebuildsActiveAlerts(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	am := startAlertmanager(t)
	const resend = 200 * time.Millisecond
	vars := map[string]string{"SLAALERTS_RESEND": resend.String(), "SLAALERTS_DURABLE": "slaalerts-restart"}
	first := startService(t, env, am.URL, vars)
	open, closed := newEpisode(env, "t-open"), newEpisode(env, "t-closed")

	env.Publish(t, open.breach(true), closed.warning(), closed.resolved(time.Now()))
	waitActive(t, am, "ReplySLABreached", "t-open")
	waitSettled(t, env, "slaalerts-restart")
	if _, ok, _ := am.Find("ReplySLAWarning", "t-closed"); ok {
		t.Error("the resolved episode's warning is active")
	}

	first.Stop()
	// Without re-sends the alert lapses at the endsAt of its last post.
	waitGone(t, am, "ReplySLABreached", "t-open")

	startService(t, env, am.URL, vars)
	a := waitActive(t, am, "ReplySLABreached", "t-open")
	// Several leases (4 re-send intervals each) go by: the alert stays
	// active and is updated by re-sends all along.
	seen := time.Now()
	updates := map[time.Time]bool{a.UpdatedAt: true}
	eventually(t, 30*time.Second, "kept active over 3 leases", func() (bool, string) {
		got, ok, err := am.Find("ReplySLABreached", "t-open")
		if err != nil {
			return false, err.Error()
		}
		if !ok || got.Status.State != "active" {
			t.Fatalf("the alert lapsed %s after the restart's first post, despite the re-sends", time.Since(seen))
		}
		updates[got.UpdatedAt] = true
		return time.Since(seen) > 12*resend && len(updates) >= 5, fmt.Sprintf("%d updates", len(updates))
	})
	if _, ok, _ := am.Find("ReplySLAWarning", "t-closed"); ok {
		t.Error("after the restart, the resolved episode's warning is active")
	}

	env.Publish(t, open.resolved(time.Now()))
	waitGone(t, am, "ReplySLABreached", "t-open")
	waitSettled(t, env, "slaalerts-restart")
}
