package pollers

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// AccountStatus is what the engine knows of one account, for status pages.
// It never holds a secret.
type AccountStatus struct {
	Account     string    `json:"account"` // provider/id
	State       string    `json:"state"`   // starting, ok, failing, throttled, standby, waiting, paused
	LastPoll    time.Time `json:"last_poll,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	NextPoll    time.Time `json:"next_poll,omitzero"`
	Failures    int       `json:"failures"`
	LastError   string    `json:"last_error,omitempty"`
	// OpenEpisodes counts the threads awaiting a reply announced with
	// ReplyNeeded; NextDeadline is the earliest warning or breach due
	// among them.
	OpenEpisodes int       `json:"open_episodes"`
	NextDeadline time.Time `json:"next_deadline,omitzero"`
	// Paused says who paused the account, when and why; nil unless its
	// state is paused.
	Paused *checkpoint.Pause `json:"paused,omitempty"`
}

// Status returns the state of every account, in the order they were given.
func (e *Engine) Status() []AccountStatus {
	runners := e.accounts()
	out := make([]AccountStatus, len(runners))
	for i, r := range runners {
		out[i] = r.snapshot()
	}
	return out
}

func (r *runner) snapshot() AccountStatus {
	r.statusMu.Lock()
	s := r.status
	r.statusMu.Unlock()
	r.slaMu.Lock()
	s.OpenEpisodes, s.NextDeadline = r.sla.open, r.sla.next
	r.slaMu.Unlock()
	return s
}

// Waiting names the dependencies the engine is waiting for (Redis, NATS
// JetStream), with when it started waiting; empty when none.
func (e *Engine) Waiting() map[string]time.Time { return e.outages.snapshot() }

func (r *runner) setStatus(st Stats, err error, next time.Time) {
	now := time.Now()
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	s := &r.status
	s.LastPoll, s.NextPoll, s.Failures = now, next, r.failures
	s.Paused = nil
	var pe *checkpoint.PausedError
	switch {
	case errors.As(err, &pe):
		s.State, s.LastError, s.Paused = "paused", "", &pe.Pause
	case err == nil:
		s.State, s.LastSuccess, s.LastError = "ok", now, ""
	case errors.Is(err, ErrStandby), errors.Is(err, checkpoint.ErrLeaseLost):
		s.State, s.LastError = "standby", ""
	case errors.Is(err, ErrStore), errors.Is(err, events.ErrPublish):
		s.State, s.LastError = "waiting", err.Error()
	case errors.Is(err, ErrRateLimited):
		s.State, s.LastError = "throttled", err.Error()
	default:
		s.State, s.LastError = "failing", err.Error()
	}
}

// dependency names the shared service an error says is unreachable.
func dependency(err error) string {
	switch {
	case errors.Is(err, ErrStore):
		return "Redis"
	case errors.Is(err, events.ErrPublish):
		return "NATS JetStream"
	}
	return ""
}

// outages tracks shared services that are down, so that thousands of
// accounts failing for one reason make one clear log line, not thousands.
type outages struct {
	log  *slog.Logger
	mu   sync.Mutex
	down map[string]*outage
}

type outage struct {
	since, logged time.Time
	accounts      map[string]bool
}

// remind is how often an ongoing outage is logged again.
const remind = 30 * time.Second

func (o *outages) fail(dep, account string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	d, ok := o.down[dep]
	if !ok {
		d = &outage{since: now, accounts: map[string]bool{}}
		o.down[dep] = d
	}
	d.accounts[account] = true
	if !ok || now.Sub(d.logged) >= remind {
		d.logged = now
		o.log.Warn("waiting for "+dep+"; affected accounts retry on their own", "since", d.since.Format(time.RFC3339), "accounts", len(d.accounts), "error", err)
	}
}

func (o *outages) ok(dep string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.down[dep]; ok {
		delete(o.down, dep)
		o.log.Info(dep+" reachable again", "after", time.Since(d.since).Round(time.Millisecond))
	}
}

func (o *outages) snapshot() map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]time.Time, len(o.down))
	for k, d := range o.down {
		out[k] = d.since
	}
	return out
}
