package pollers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// A runner is one account's polling, with what it keeps between polls.
type runner struct {
	cfg      *Config
	acct     Account
	ck       checkpoint.Account
	origin   events.Origin
	provider Provider
	features Features
	overlap  time.Duration
	log      *slog.Logger
	tel      *telemetry
	requests atomic.Int64
	pacer    *pacer
	memo     *memo
	same     samePages

	outages  *outages
	statusMu sync.Mutex
	status   AccountStatus

	// share, freeSeen and adopted decide whether this worker polls the
	// account (see share); only loop touches the last two.
	share    *share
	freeSeen int
	adopted  uint64 // the share generation in which the account was adopted

	// ctx, stop and done are set when Run starts the account; sched
	// runs its polls, and polled is its, under its lock.
	ctx    context.Context
	stop   context.CancelFunc
	done   chan struct{}
	sched  *scheduler
	polled slot

	// mu serialises polls of the account: one walk at a time per account.
	mu    sync.Mutex
	lease checkpoint.Lease
	// leaseCursor is the cursor read with the lease, for the poll's
	// first walk; nil once used or when stale.
	leaseCursor *checkpoint.Cursor
	failures    int
	rec         recovery
	// health is the run of failed polls in progress (see health.go);
	// healthLoaded says it was read from the store once. Only loop
	// touches them.
	health       *checkpoint.Health
	healthLoaded bool
	// paused is the pause seen by the last poll; only loop touches it.
	paused *checkpoint.Pause
	// markChecked: the look for a lost state was made; markAt is the
	// account's newest mark and markWritten the newest written (marks.go).
	// Under mu.
	markChecked         bool
	markAt, markWritten time.Time

	// held is lease, for the timer firings that run beside a poll;
	// leased is when it was last taken or extended (Unix nanoseconds).
	held   atomic.Pointer[checkpoint.Lease]
	leased atomic.Int64

	// slaMu guards sla, which polls, firings and /status read. fireMu
	// makes the account's firings one at a time. timers fires them;
	// queued is its, under its lock. kick asks the loop
	// to poll now.
	slaMu  sync.Mutex
	sla    deadlines
	fireMu sync.Mutex
	timers *timerQueue
	queued slot
	kick   chan struct{}
}

func newRunner(e *Engine, a Account) (*runner, error) {
	cfg := &e.cfg
	factory, ok := cfg.Providers[a.Provider]
	if !ok {
		return nil, fmt.Errorf("account %s: unknown provider %q", a, a.Provider)
	}
	r := &runner{
		cfg:     cfg,
		acct:    a,
		ck:      checkpoint.Account{Provider: a.Provider, ID: a.ID},
		origin:  events.Origin{Prefix: cfg.SubjectPrefix, Provider: a.Provider, Account: a.ID},
		log:     cfg.Logger.With("account", a.String()),
		tel:     e.tel,
		outages: e.outages,
		share:   e.share,
		status:  AccountStatus{Account: a.String(), State: "starting"},
		timers:  e.timers,
		kick:    make(chan struct{}, 1),

		queued: slot{idx: -1},
		polled: slot{idx: -1},
		sched:  e.sched,
	}
	if err := r.origin.Validate(); err != nil {
		return nil, fmt.Errorf("account %s: %w", a, err)
	}
	// The provider's features are known only once it exists, so the
	// pacer is set right after, before the provider's first request.
	tr := &accountTransport{
		next: cfg.Transport, policy: cfg.Retry, timeout: cfg.HTTPTimeout, tel: e.tel, provider: a.Provider,
		count: &r.requests, onRetry: func(reason string) { e.tel.retried(a.Provider, reason) },
	}
	client := &http.Client{
		// Each attempt has its own timeout (in the transport): a client
		// timeout would bound the retries together.
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			// A redirect could carry the credentials to another host.
			return http.ErrUseLastResponse
		},
	}
	p, err := factory(a, client)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", a, err)
	}
	r.provider, r.features = p, p.Features()
	if h, ok := p.(RetryHinter); ok {
		tr.hints = h
	}
	if d, ok := p.(DailyResetter); ok {
		tr.dailyReset = d.DailyReset
	}
	rps := r.features.RequestsPerSecond
	if v, ok := a.Options["requests_per_second"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return nil, fmt.Errorf("account %s: option requests_per_second %q must be a positive number", a, v)
		}
		rps = f
	}
	r.pacer = newPacer(rps)
	tr.pacer = r.pacer
	if name, ok := a.Options["quota"]; ok {
		if err := events.ValidToken("quota", name); err != nil {
			return nil, fmt.Errorf("account %s: option %w", a, err)
		}
		if cfg.Quotas == nil {
			return nil, fmt.Errorf("account %s: option quota %q needs a shared store (Config.Quotas)", a, name)
		}
		r.pacer.quota = &sharedQuota{store: cfg.Quotas, name: name, rps: rps}
	}
	r.memo = newMemo(&e.memoBudget)
	r.overlap = r.features.Overlap
	if v, ok := a.Options["overlap"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("account %s: option overlap %q must be a non-negative duration", a, v)
		}
		r.overlap = d
	}
	return r, nil
}

// halt asks the account, if running, to finish and stop.
func (r *runner) halt() {
	if r.stop != nil {
		r.stop()
		r.sched.now(r)
	}
}

// askPoll asks for a poll of the account now: at once if it is waiting,
// right after the poll under way otherwise.
func (r *runner) askPoll() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
	r.sched.now(r)
}

// wait returns once the account, if it was started, has stopped.
func (r *runner) wait() {
	if r.done != nil {
		<-r.done
	}
}

// waitCtx waits for the account to stop, or for ctx to end.
func (r *runner) waitCtx(ctx context.Context) error {
	if r.done == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pollStep polls the account once if this worker is to, reports the
// outcome, and returns the wait before the next poll.
func (r *runner) pollStep(ctx context.Context) time.Duration {
	st, err := Stats{}, ErrStandby
	if r.mine(ctx) {
		st, err = r.poll(ctx)
	}
	if err == nil {
		r.handOff()
	}
	if r.cfg.OnPoll != nil {
		r.cfg.OnPoll(r.acct, st, err)
	}
	wait := r.acct.PollInterval
	var pe *checkpoint.PausedError
	if errors.As(err, &pe) {
		if r.paused == nil || *r.paused != pe.Pause {
			r.log.Info("account paused; not polled until resumed", "by", pe.Pause.By, "reason", pe.Pause.Reason)
		}
		r.paused = &pe.Pause
	} else if r.paused != nil && !errors.Is(err, ErrStandby) {
		r.log.Info("account resumed")
		r.paused = nil
	}
	switch {
	case err == nil:
		if r.failures > 0 {
			r.log.Info("account recovered", "after_failures", r.failures)
		}
		r.failures = 0
		r.succeeded(ctx)
		if err := r.backfill(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("backfill page failed; it is tried again after the next poll", "error", err)
		}
		r.outages.ok("Redis")
		if st.Events > 0 {
			r.outages.ok("NATS JetStream")
		}
		r.log.Debug("poll done", "pages", st.Pages, "threads", st.Threads, "changed", st.Changed, "events", st.Events, "requests", st.Requests)
		if !st.Completed && ctx.Err() == nil {
			wait = 0 // a walk cut short by a lost lease or token resumes at once
		}
	case errors.Is(err, ErrStandby):
		r.log.Debug("standing by: another worker holds the account")
	case errors.Is(err, checkpoint.ErrPaused):
	case errors.Is(err, checkpoint.ErrLeaseLost):
		// Paused past the lease (a long GC, a frozen VM) and another
		// worker took over: its commits win, ours was refused.
		r.log.Warn("lost the account's lease to another worker; standing by", "error", err)
	case ctx.Err() != nil:
		return wait
	default:
		r.failures++
		r.failed(ctx, err)
		// A provider that paused the account (a daily allowance, a
		// long Retry-After) is not asked again before the pause ends.
		wait = max(r.backoff(err), r.pacer.pausedFor())
		if errors.Is(err, ErrRateLimited) {
			// The provider asked for a pause: expected, not an alarm.
			r.log.Info("paused by the provider's rate limit", "error", err, "retry_in", wait.Round(time.Millisecond))
		} else if dep := dependency(err); dep != "" {
			// A shared service is down: retry soon, say it once.
			wait = min(wait, 5*time.Second)
			r.outages.fail(dep, r.acct.String(), err)
			r.log.Debug("poll failed; will retry", "error", err, "attempt", r.failures, "retry_in", wait.Round(time.Millisecond))
		} else {
			r.log.Warn("poll failed; will retry", "error", err, "attempt", r.failures, "retry_in", wait.Round(time.Millisecond))
		}
	}
	r.setStatus(st, err, time.Now().Add(wait))
	return wait
}

// backoff is the wait before the next attempt after err: Retry-After when
// the provider said so, otherwise exponential with jitter, starting higher
// for rejected credentials.
func (r *runner) backoff(err error) time.Duration {
	var he *HTTPError
	if errors.As(err, &he) && he.RetryAfter > 0 {
		return min(he.RetryAfter+time.Duration(rand.Int64N(int64(250*time.Millisecond))), max(r.cfg.MaxBackoff, he.RetryAfter))
	}
	base := r.cfg.MinBackoff
	if errors.Is(err, ErrAuth) {
		base = max(base, 30*time.Second)
	}
	d := base << min(r.failures-1, 20)
	if d <= 0 || d > r.cfg.MaxBackoff {
		d = r.cfg.MaxBackoff
	}
	// Equal jitter: at least half the delay, so retries still back off.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (r *runner) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked()
}

// releaseLocked gives the lease up, if held; r.mu is held.
func (r *runner) releaseLocked() {
	if r.lease.Token == "" {
		return
	}
	{
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.writeMark(ctx)
		cancel()
	}
	if r.lease.Token == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release := r.cfg.Store.Release
	if r.rec.active() {
		release = r.cfg.Store.Abandon
	}
	if err := release(ctx, r.lease); err != nil {
		r.log.Warn("release lease", "error", err)
	}
	r.setLease(checkpoint.Lease{})
}

// drainContext stays alive for grace after parent is cancelled, so the page
// in hand can be finished and committed during shutdown.
func drainContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(ctx, func() { t.Stop() })
	})
	return ctx, func() { stop(); cancel() }
}
