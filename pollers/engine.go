package pollers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// Store is the checkpoint store the engine commits to (*checkpoint.Store),
// in three parts that the engine uses apart.
type Store interface {
	Checkpoints
	Leases
	Membership
	Control
}

// Control holds what operators set on an account (a pause) and what the
// engine records of its health for them and for other replicas.
type Control interface {
	Pause(ctx context.Context, a checkpoint.Account, p checkpoint.Pause) (checkpoint.Pause, bool, error)
	Health(ctx context.Context, a checkpoint.Account) (*checkpoint.Health, error)
	SetHealth(ctx context.Context, a checkpoint.Account, h checkpoint.Health) error
	ClearHealth(ctx context.Context, a checkpoint.Account) error
	// Reset carries out an operator's reset request, fenced by the lease.
	Reset(ctx context.Context, l checkpoint.Lease, r checkpoint.ResetRequest) (bool, error)
	// Backfill, ThreadCount and CommitBackfill read and advance a backfill.
	Backfill(ctx context.Context, a checkpoint.Account) (*checkpoint.Backfill, error)
	ThreadCount(ctx context.Context, a checkpoint.Account) (int64, error)
	CommitBackfill(ctx context.Context, l checkpoint.Lease, b checkpoint.Backfill, states map[string]*checkpoint.ThreadState) (bool, error)
}

// Checkpoints keeps what the engine has seen of an account: its cursor,
// its threads' states and its reply deadlines.
type Checkpoints interface {
	Cursor(ctx context.Context, a checkpoint.Account) (checkpoint.Cursor, error)
	Threads(ctx context.Context, a checkpoint.Account, ids []string) ([]*checkpoint.ThreadState, error)
	Commit(ctx context.Context, l checkpoint.Lease, c checkpoint.Cursor, states map[string]*checkpoint.ThreadState, t checkpoint.TimerChanges) (time.Time, error)
	// DueTimers and DoneTimers read and retire the reply deadlines.
	DueTimers(ctx context.Context, a checkpoint.Account, now time.Time, n int) ([]checkpoint.DueTimer, error)
	DoneTimers(ctx context.Context, l checkpoint.Lease, fired []checkpoint.DueTimer, states map[string]*checkpoint.ThreadState, after time.Time) (time.Time, error)
}

// Leases give one worker at a time the right to advance an account.
type Leases interface {
	Acquire(ctx context.Context, a checkpoint.Account, ttl time.Duration) (checkpoint.Lease, error)
	Extend(ctx context.Context, l checkpoint.Lease) error
	Release(ctx context.Context, l checkpoint.Lease) error
	Abandon(ctx context.Context, l checkpoint.Lease) error
}

// Membership lets the workers given the same accounts split them among
// themselves.
type Membership interface {
	Owner() string
	Heartbeat(ctx context.Context, ttl time.Duration) ([]string, error)
	Leave(ctx context.Context) error
	LeaseFree(ctx context.Context, a checkpoint.Account) (bool, error)
}

// Publisher sends a page's events; the returned batch says, once waited
// for, whether JetStream stored all of them (*events.Publisher).
type Publisher interface {
	Send(ctx context.Context, evs []events.Event) *events.Pending
}

// Config configures an Engine. Zero values take the documented defaults.
type Config struct {
	// Store keeps cursors, thread states and leases. Required.
	Store Store
	// Publisher delivers events. Required.
	Publisher Publisher
	// Providers makes the Provider of each account, by provider name. Required.
	Providers map[string]Factory
	// SubjectPrefix is the first token of every subject (default "inbox").
	SubjectPrefix string
	// PollInterval applies to accounts without their own (default 30s).
	PollInterval time.Duration
	// Concurrency bounds the accounts polled at once (default 64).
	Concurrency int
	// HTTPTimeout bounds one attempt of a provider request, its body
	// included (default 30s).
	HTTPTimeout time.Duration
	// Retry says how provider requests are retried in place.
	Retry RetryPolicy
	// Quotas keeps the request budgets and pauses that accounts with the
	// same `quota` option share, across replicas (*checkpoint.Store).
	// Without it the option is refused.
	Quotas Quotas
	// LeaseTTL is how long an account stays with this worker without a
	// commit (default 60s).
	LeaseTTL time.Duration
	// SweepInterval is how often incremental providers also walk their
	// whole list to reconcile (default 24h; negative disables).
	SweepInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed poll
	// (defaults 1s and 5m). Credentials errors start at 30s.
	MinBackoff, MaxBackoff time.Duration
	// ShutdownTimeout bounds finishing the page in hand once Run's context
	// is cancelled (default 30s).
	ShutdownTimeout time.Duration
	// MaxPages bounds the pages of one walk, against a provider whose
	// "next" never ends (default 100,000).
	MaxPages int
	// Transport carries provider requests (default: http.DefaultTransport's
	// settings with an idle connection per concurrent poll and host).
	Transport http.RoundTripper
	// Logger receives the engine's logs (default slog.Default()).
	Logger *slog.Logger
	// MeterProvider receives the engine's metrics (default: the global
	// OpenTelemetry provider, a no-op unless the program installs one).
	MeterProvider metric.MeterProvider
	// SLAGrace is how long after a deadline a breach waits for a poll
	// that can confirm it, when polls fail, before it is published
	// unconfirmed (default 1m).
	SLAGrace time.Duration
	// DuplicateWindow is the stream's duplicate window (default 2h): a
	// page published again within it is dropped as a copy, so the
	// engine repeats what a page left uncommitted may have published no
	// later than that.
	DuplicateWindow time.Duration
	// FailingAfter is how many consecutive failed polls make an account
	// failing: AccountFailing is published (default 5). Refused
	// credentials make it failing at once. Outages of Redis or NATS are
	// not the account's failures and do not count.
	FailingAfter int
	// AutoPauseAfter pauses an account whose credentials the provider has
	// refused for this long without a break (default 24h; negative
	// never pauses).
	AutoPauseAfter time.Duration
	// Marks keeps the accounts' sync marks apart from Store
	// (*events.Marks), so that an account whose state the Store lost can
	// be told from a new one. Without it a lost state looks new.
	Marks Marks
	// OnStateLoss says what an account found with a mark and no state
	// does: StateLossResume (the default), StateLossFull or StateLossStop.
	OnStateLoss StateLoss
	// OnPoll, when set, is called by Run after every poll of an account,
	// with what it did and its error; for metrics, status pages and tests.
	OnPoll func(a Account, st Stats, err error)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "inbox"
	}
	def(&c.PollInterval, 30*time.Second)
	if c.Concurrency <= 0 {
		c.Concurrency = 64
	}
	def(&c.HTTPTimeout, 30*time.Second)
	c.Retry.setDefaults()
	def(&c.LeaseTTL, 60*time.Second)
	def(&c.SweepInterval, 24*time.Hour)
	def(&c.MinBackoff, time.Second)
	def(&c.MaxBackoff, 5*time.Minute)
	def(&c.ShutdownTimeout, 30*time.Second)
	def(&c.SLAGrace, time.Minute)
	def(&c.DuplicateWindow, 2*time.Hour)
	def(&c.AutoPauseAfter, 24*time.Hour)
	if c.OnStateLoss == "" {
		c.OnStateLoss = StateLossResume
	}
	if c.FailingAfter <= 0 {
		c.FailingAfter = 5
	}
	if c.MaxPages <= 0 {
		c.MaxPages = 100_000
	}
	if c.Transport == nil {
		// Many accounts share a provider's host: keep enough idle
		// connections for all polls at once, or each poll dials (and
		// shakes hands) again.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 4 * c.Concurrency
		t.MaxIdleConnsPerHost = c.Concurrency
		c.Transport = t
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("pollers: Config.Store is required")
	case c.Publisher == nil:
		return errors.New("pollers: Config.Publisher is required")
	case len(c.Providers) == 0:
		return errors.New("pollers: Config.Providers is required")
	case c.OnStateLoss != StateLossResume && c.OnStateLoss != StateLossFull && c.OnStateLoss != StateLossStop:
		return fmt.Errorf("pollers: Config.OnStateLoss %q must be %s, %s or %s", c.OnStateLoss, StateLossResume, StateLossFull, StateLossStop)
	}
	return nil
}

// Engine polls accounts and turns their changes into events.
type Engine struct {
	cfg     Config
	outages *outages
	tel     *telemetry
	share   *share

	updateMu sync.Mutex // one Update at a time

	mu      sync.RWMutex
	runners []*runner // in the order the accounts were given
	byKey   map[string]*runner
	running context.Context // Run's context while it runs, else nil
	sched   *scheduler      // runs the polls, Concurrency at once
	timers  *timerQueue     // fires the accounts' reply deadlines

	memoBudget atomic.Int64 // bytes the accounts' memos may still take
}

// New builds an engine for the accounts. It fails when an account is
// invalid, duplicated, or names a provider without a factory.
func New(cfg Config, accounts []Account) (*Engine, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, sched: newScheduler()}
	e.memoBudget.Store(memoBytes)
	e.outages = &outages{log: cfg.Logger, down: map[string]*outage{}}
	e.tel = newTelemetry(cfg.MeterProvider)
	e.share = &share{}
	e.timers = newTimerQueue()
	runners, err := e.build(accounts, nil)
	if err != nil {
		return nil, err
	}
	e.runners, e.byKey = runners, byKey(runners)
	e.tel.observe(e)
	return e, nil
}

// build returns the runners of accounts, reusing those of current whose
// account is unchanged.
// Check validates the accounts as New would, as if the quotas they name
// had a shared store, without connecting to anything: what `threadsync
// check` reports. It reports every account with a problem, not only the
// first. Store and Publisher may be nil.
func Check(cfg Config, accounts []Account) error {
	cfg.setDefaults()
	if len(cfg.Providers) == 0 {
		return errors.New("pollers: Config.Providers is required")
	}
	if cfg.Quotas == nil {
		cfg.Quotas = unusedQuotas{}
	}
	e := &Engine{cfg: cfg, tel: newTelemetry(cfg.MeterProvider)}
	// Every account's own problems, then what is wrong between them
	// (one listed twice, a quota with two rates).
	var errs []error
	for _, a := range accounts {
		if _, err := e.build([]Account{a}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err := e.build(accounts, nil)
	return err
}

// unusedQuotas stands for the shared store while accounts are checked;
// nothing is polled then, so it is never asked.
type unusedQuotas struct{}

func (unusedQuotas) TakeQuota(context.Context, string, float64) (time.Duration, error) {
	return 0, errors.New("pollers: no quota store while checking")
}

func (unusedQuotas) PauseQuota(context.Context, string, time.Duration) error {
	return errors.New("pollers: no quota store while checking")
}

func (e *Engine) build(accounts []Account, current map[string]*runner) ([]*runner, error) {
	out := make([]*runner, 0, len(accounts))
	seen := make(map[string]bool, len(accounts))
	quotas := map[string]*runner{} // the first account of each quota
	for _, a := range accounts {
		if a.InitialSync == "" {
			a.InitialSync = SyncFull
		}
		if a.PollInterval == 0 {
			a.PollInterval = e.cfg.PollInterval
		}
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("account %s: %w", a, err)
		}
		if seen[a.Key()] {
			return nil, fmt.Errorf("account %s: listed twice", a)
		}
		seen[a.Key()] = true
		r, ok := current[a.Key()]
		if !ok || !sameAccount(r.acct, a) {
			var err error
			if r, err = newRunner(e, a); err != nil {
				return nil, err
			}
		}
		if q := r.pacer.quota; q != nil {
			// One budget has one rate, whichever account spends it.
			if first, ok := quotas[q.name]; !ok {
				quotas[q.name] = r
			} else if first.pacer.quota.rps != q.rps {
				return nil, fmt.Errorf("account %s: quota %q: requests_per_second %g differs from %g of account %s, which shares it",
					a, q.name, q.rps, first.pacer.quota.rps, first.acct)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func sameAccount(a, b Account) bool {
	return a.Provider == b.Provider && a.ID == b.ID && a.BaseURL == b.BaseURL && a.Token == b.Token &&
		a.PollInterval == b.PollInterval && a.InitialSync == b.InitialSync && maps.Equal(a.Options, b.Options) &&
		a.SLA.Equal(b.SLA)
}

func byKey(runners []*runner) map[string]*runner {
	m := make(map[string]*runner, len(runners))
	for _, r := range runners {
		m[r.acct.Key()] = r
	}
	return m
}

// Run polls every account on its interval until ctx is cancelled; then each
// account finishes and commits the page in hand, releases its lease, and
// Run returns nil. Engines running with the same accounts and Redis (the
// replicas of a deployment) split the accounts among themselves.
func (e *Engine) Run(ctx context.Context) error {
	defer e.heartbeat(ctx)()
	timersDone := make(chan struct{})
	go func() {
		defer close(timersDone)
		e.timers.run(ctx, timerWorkers, func(ctx context.Context, r *runner) { r.fire(ctx) })
	}()
	defer func() { <-timersDone }()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		e.sched.run(ctx, e.cfg.Concurrency)
	}()
	defer func() { <-schedDone }()
	e.mu.Lock()
	e.running = ctx
	for _, r := range e.runners {
		e.start(r)
	}
	e.mu.Unlock()
	if k, ok := e.cfg.Store.(Kicks); ok {
		go e.kicks(ctx, k.Kicks(ctx))
	}
	<-ctx.Done()
	e.mu.Lock()
	e.running = nil
	e.mu.Unlock()
	for _, r := range e.accounts() {
		r.wait()
	}
	return nil
}

// Kicks is implemented by stores that carry operators' "poll this account
// now" (threadsync sync-now) to the workers (*checkpoint.Store).
type Kicks interface {
	Kicks(ctx context.Context) <-chan checkpoint.Account
}

// kicks polls the accounts it is asked to at once; only the worker
// holding one (or free to take it) does more than ask for its lease.
func (e *Engine) kicks(ctx context.Context, ch <-chan checkpoint.Account) {
	for a := range ch {
		e.mu.RLock()
		r, ok := e.byKey[a.Provider+":"+a.ID]
		e.mu.RUnlock()
		if !ok {
			continue
		}
		r.log.Info("asked to poll now")
		r.askPoll()
	}
}

// accounts returns the runners of the accounts in use.
func (e *Engine) accounts() []*runner {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.runners
}

// start schedules the account's polls under Run's context; e.mu is held.
func (e *Engine) start(r *runner) {
	r.ctx, r.stop = context.WithCancel(e.running)
	r.done = make(chan struct{})
	e.sched.add(r)
}

// Update replaces the engine's accounts, as when the accounts file changes:
// accounts no longer listed, or listed with different settings, finish the
// page in hand, commit it and release their leases; then new and changed
// accounts start. Accounts listed as before carry on undisturbed. On an
// error (an invalid account) nothing changes. When ctx ends before the old
// accounts have let go, the new ones start anyway (a changed account's new
// loop stands by until the old one releases the lease) and Update returns
// ctx's error.
func (e *Engine) Update(ctx context.Context, accounts []Account) (added, removed, changed int, err error) {
	e.updateMu.Lock()
	defer e.updateMu.Unlock()
	e.mu.RLock()
	current := e.byKey
	e.mu.RUnlock()
	runners, err := e.build(accounts, current)
	if err != nil {
		return 0, 0, 0, err
	}
	next := byKey(runners)
	var gone []*runner
	for k, r := range current {
		if n, ok := next[k]; !ok {
			removed++
			gone = append(gone, r)
		} else if n != r {
			changed++
			gone = append(gone, r)
		}
	}
	added = len(next) - (len(current) - removed)
	e.mu.RLock() // start sets the loops' stop and done under e.mu
	for _, r := range gone {
		r.halt()
	}
	e.mu.RUnlock()
	for _, r := range gone {
		if err == nil {
			err = r.waitCtx(ctx)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range runners {
		if e.running != nil && r.done == nil {
			e.start(r)
		}
	}
	e.runners, e.byKey = runners, next
	return added, removed, changed, err
}

// PollOnce runs one whole walk of the account (provider/id) now, with the
// same commit and lease rules as Run. It is how tests and benchmarks drive
// the engine step by step.
func (e *Engine) PollOnce(ctx context.Context, provider, id string) (Stats, error) {
	e.mu.RLock()
	r, ok := e.byKey[provider+":"+id]
	e.mu.RUnlock()
	if !ok {
		return Stats{}, fmt.Errorf("pollers: no account %s/%s", provider, id)
	}
	return r.poll(ctx)
}

// Release gives up the leases this engine holds, so another worker can take
// its accounts over at once; Run does it when it returns.
func (e *Engine) Release() {
	for _, r := range e.accounts() {
		r.release()
	}
}

// Stats counts what one walk did.
type Stats struct {
	Walk      Walk
	Pages     int  // pages committed
	Threads   int  // threads listed
	Changed   int  // threads new or changed
	Fetches   int  // message fetches (Provider.Messages calls)
	Reused    int  // fetches a failed attempt of the page had made, reused
	Same      int  // pages skipped: the same answer as a page that yielded nothing
	Events    int  // events published
	Requests  int  // provider HTTP requests, failed ones included
	Completed bool // the walk reached the end of the list
	Rescans   int  // extra walks because the list moved during one
}
