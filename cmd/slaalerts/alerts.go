package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
)

// errUndecodable marks a message that no retry can make sense of: it goes
// to the poison queue. Every other handler error is retried.
var errUndecodable = errors.New("undecodable event")

// slaEvent is one decoded event slaalerts acts on.
type slaEvent struct {
	ID       string
	Type     events.Type
	Time     time.Time                 // the envelope's: warn_at, due_at or resolved_at
	SLA      *events.ReplySLAData      // ReplySLAWarning, ReplySLABreached
	Resolved *events.ReplyResolvedData // ReplyResolved
}

// handled are the event types slaalerts acts on; the consumer's filter
// (<prefix>.*.*.reply.*) brings others too, such as ReplyNeeded.
var handled = []events.Type{events.ReplySLAWarning, events.ReplySLABreached, events.ReplyResolved}

// decodeEvent decodes the message on subject. ok is false for an event
// slaalerts does not act on, told by the subject; the error wraps
// errUndecodable when the subject names an SLA event the payload is not.
func decodeEvent(subject string, payload []byte) (ev slaEvent, ok bool, err error) {
	var want events.Type
	for _, t := range handled {
		if strings.HasSuffix(subject, "."+t.SubjectSuffix()) {
			want = t
		}
	}
	if want == "" {
		return ev, false, nil
	}
	bad := func(format string, args ...any) (slaEvent, bool, error) {
		return slaEvent{}, true, fmt.Errorf("%w on %s: %s", errUndecodable, subject, fmt.Sprintf(format, args...))
	}
	env, err := events.ParseEnvelope(payload)
	if err != nil {
		return bad("%v", err)
	}
	if env.Type != want {
		return bad("event %s has type %q, the subject says %s", env.ID, env.Type, want)
	}
	data, err := events.DecodeData(env)
	if err != nil {
		return bad("event %s: %v", env.ID, err)
	}
	ev = slaEvent{ID: env.ID, Type: env.Type, Time: env.Time}
	var provider, account, thread string
	var since time.Time
	switch d := data.(type) {
	case *events.ReplySLAData:
		if d.DueAt.IsZero() {
			return bad("event %s has no due_at", env.ID)
		}
		ev.SLA, provider, account, thread, since = d, d.Provider, d.Account, d.ThreadID, d.NeededSince
	case *events.ReplyResolvedData:
		if d.ResolvedAt.IsZero() {
			return bad("event %s has no resolved_at", env.ID)
		}
		ev.Resolved, provider, account, thread, since = d, d.Provider, d.Account, d.ThreadID, d.NeededSince
	}
	if provider == "" || account == "" || thread == "" || since.IsZero() {
		return bad("event %s lacks provider, account, thread_id or needed_since", env.ID)
	}
	return ev, true, nil
}

// kind is which of an episode's two alerts.
type kind int

const (
	warning kind = iota
	breach
)

func (k kind) alertname() string { return [...]string{"ReplySLAWarning", "ReplySLABreached"}[k] }
func (k kind) severity() string  { return [...]string{"warning", "critical"}[k] }

// episode is what is known of one reply-needed episode of one thread: its
// alerts, and whether it has ended. A resolved episode is kept a while (see
// tracker.forgetAfter) so that a resolution delivered again is posted again
// and a late warning does not fire.
type episode struct {
	alerts     [2]*Alert // by kind; nil when that event has not been seen
	resolved   bool
	resolvedAt time.Time
}

// tracker maps events to alerts and keeps the episodes that have alerts. It
// is not safe for concurrent use.
type tracker struct {
	// lease is how long one post keeps an active alert active: its endsAt
	// is now+lease. Re-posting more often than that keeps it firing;
	// stopping (slaalerts gone) lets Alertmanager resolve it by itself.
	lease time.Duration
	// forgetAfter is how long a resolved episode is remembered.
	forgetAfter  time.Duration
	generatorURL string
	episodes     map[string]*episode
}

func newTracker(resend, forgetAfter time.Duration, generatorURL string) *tracker {
	return &tracker{lease: 4 * resend, forgetAfter: forgetAfter, generatorURL: generatorURL, episodes: map[string]*episode{}}
}

func episodeKey(provider, account, thread string, since time.Time) string {
	return provider + "\x00" + account + "\x00" + thread + "\x00" + since.UTC().Format(time.RFC3339Nano)
}

// apply records ev and returns the alerts to post for it, none when it
// changes nothing Alertmanager must hear of. Applying an event twice
// returns the same alerts, so a retried or redelivered event is posted
// again. replay is true while rebuilding from the stream: then a warning
// of an unknown episode is never taken for stale.
func (t *tracker) apply(ev slaEvent, now time.Time, replay bool) []Alert {
	if ev.Resolved != nil {
		return t.resolve(ev.Resolved, now)
	}
	d := ev.SLA
	key := episodeKey(d.Provider, d.Account, d.ThreadID, d.NeededSince)
	ep := t.episodes[key]
	if ep != nil && ep.resolved {
		// The episode ended before this warning or breach arrived: it
		// must not fire an alert nothing would resolve.
		return nil
	}
	if ep == nil && !replay && now.Sub(ev.Time) > t.forgetAfter {
		// An episode this old that the rebuild did not find open is one
		// that was resolved and forgotten: this is a replay of it.
		return nil
	}
	if ep == nil {
		ep = &episode{}
		t.episodes[key] = ep
	}
	k := warning
	if ev.Type == events.ReplySLABreached {
		k = breach
	}
	a := t.alert(k, ev)
	ep.alerts[k] = &a
	out := a
	out.EndsAt = now.Add(t.lease)
	return []Alert{out}
}

// resolve ends the episode of d and returns its alerts resolved.
//
// Alertmanager resolves an alert whose endsAt is not after its own clock,
// and rejects one whose endsAt is before its startsAt (with a 400 that
// retries would not cure). So endsAt is resolved_at, brought back to now
// when it lies ahead (a provider clock ahead of ours would otherwise keep
// the alert firing until then) and up to the alert's startsAt when it lies
// before (an unconfirmed breach can start after the reply that ended it).
func (t *tracker) resolve(d *events.ReplyResolvedData, now time.Time) []Alert {
	ep := t.episodes[episodeKey(d.Provider, d.Account, d.ThreadID, d.NeededSince)]
	if ep == nil {
		return nil // no alert was raised for this episode: most episodes
	}
	ep.resolved, ep.resolvedAt = true, d.ResolvedAt
	var out []Alert
	for _, a := range ep.alerts {
		if a == nil {
			continue
		}
		r := *a
		r.EndsAt = d.ResolvedAt
		if r.EndsAt.After(now) {
			r.EndsAt = now
		}
		if r.EndsAt.Before(r.StartsAt) {
			r.EndsAt = r.StartsAt
		}
		out = append(out, r)
	}
	return out
}

// active returns the alerts of the open episodes, to post again.
func (t *tracker) active(now time.Time) []Alert {
	var out []Alert
	for _, ep := range t.episodes {
		if ep.resolved {
			continue
		}
		for _, a := range ep.alerts {
			if a != nil {
				r := *a
				r.EndsAt = now.Add(t.lease)
				out = append(out, r)
			}
		}
	}
	return out
}

// prune forgets the episodes resolved more than forgetAfter ago.
func (t *tracker) prune(now time.Time) {
	for k, ep := range t.episodes {
		if ep.resolved && now.Sub(ep.resolvedAt) > t.forgetAfter {
			delete(t.episodes, k)
		}
	}
}

// counts returns the numbers of open and resolved episodes.
func (t *tracker) counts() (open, resolved int) {
	for _, ep := range t.episodes {
		if ep.resolved {
			resolved++
		} else {
			open++
		}
	}
	return open, resolved
}

// alert builds the alert of kind k for the SLA event ev. Its labels
// identify the episode: Alertmanager tells alerts apart by label set, and
// needed_since keeps a thread's next episode from being taken for this one.
func (t *tracker) alert(k kind, ev slaEvent) Alert {
	d := ev.SLA
	// RFC3339Nano drops a zero fraction: whole seconds read as RFC 3339.
	since, due := d.NeededSince.UTC().Format(time.RFC3339Nano), d.DueAt.UTC().Format(time.RFC3339Nano)
	where := fmt.Sprintf("thread %s of %s account %s", d.ThreadID, d.Provider, d.Account)
	policy := d.Policy
	if policy == "" {
		policy = "the reply policy"
	} else {
		policy = "policy " + policy
	}
	a := Alert{
		Labels: map[string]string{
			"alertname":    k.alertname(),
			"severity":     k.severity(),
			"provider":     d.Provider,
			"account":      d.Account,
			"thread_id":    d.ThreadID,
			"policy":       d.Policy,
			"needed_since": since,
		},
		Annotations: map[string]string{
			"needed_since": since,
			"due_at":       due,
			"event_id":     ev.ID,
		},
		StartsAt:     ev.Time.UTC(),
		GeneratorURL: t.generatorURL,
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = d.DueAt.UTC()
	}
	confirmed := d.Confirmed == nil || *d.Confirmed
	a.Annotations["confirmed"] = strconv.FormatBool(confirmed)
	switch k {
	case warning:
		a.Annotations["summary"] = fmt.Sprintf("Reply due soon: %s/%s thread %s, due at %s", d.Provider, d.Account, d.ThreadID, due)
		a.Annotations["description"] = fmt.Sprintf("The %s has waited for a reply since %s; %s gives it until %s.", where, since, policy, due)
		if !confirmed {
			a.Annotations["summary"] += " (unconfirmed)"
			a.Annotations["description"] += " Unconfirmed: the account could not be polled at the warning's time, so this rests on the last state known; the thread may have been answered meanwhile."
		}
	case breach:
		a.Annotations["summary"] = fmt.Sprintf("Reply overdue: %s/%s thread %s, due at %s", d.Provider, d.Account, d.ThreadID, due)
		desc := fmt.Sprintf("The %s has waited for a reply since %s, past the deadline %s of %s.", where, since, due, policy)
		if confirmed {
			desc += " Confirmed: a poll at the deadline found it still unanswered."
		} else {
			a.Annotations["summary"] += " (unconfirmed)"
			desc += " Unconfirmed: the poll at the deadline failed, so this breach rests on the last state known before it; the thread may have been answered meanwhile."
		}
		a.Annotations["description"] = desc
	}
	return a
}
