package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// ErrLeaseHeld is returned by Acquire when another worker holds the account.
var ErrLeaseHeld = errors.New("account lease held by another worker")

// ErrLeaseLost is returned by Commit when the caller's lease expired or was
// taken over: the page must not be committed.
var ErrLeaseLost = errors.New("account lease lost")

// Account names the account whose keys are addressed.
type Account struct {
	Provider string
	ID       string
}

func (a Account) String() string { return a.Provider + "/" + a.ID }

// Lease is the right to advance one account's cursor, until it expires.
// Token grows with every acquisition (a fencing token), so a worker that
// paused past its lease cannot commit over its successor.
type Lease struct {
	Account Account
	Token   string
	TTL     time.Duration
	// NextTimer is the account's earliest SLA timer when the lease was
	// taken; zero when it has none.
	NextTimer time.Time
	// Unfinished: the previous holder, another worker, let its lease
	// lapse without releasing it (it crashed, or its commits were
	// refused), or abandoned it, so pages it published may have no
	// commit. PrevTaken is when that holder, or the first of the holders
	// before it that did not release the account either, took it
	// (Redis's clock): none of their pages was fetched before.
	Unfinished bool
	PrevTaken  time.Time
	// Reset is the reset an operator asked for and no worker has carried
	// out yet; nil when none is pending.
	Reset *ResetRequest
	// Backfill: a backfill of the account is requested or under way.
	Backfill bool
	// Failing: a run of failed polls is recorded (Health), so the new
	// holder reads it rather than starting a run of its own.
	Failing bool
	// Cursor is the account's cursor as the lease was taken or extended
	// (the zero Cursor when it has none), read in the same round trip:
	// a poll needs it next. Nil from a store that did not read it.
	Cursor *Cursor
}

// Store is the Redis checkpoint store. It is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	prefix  string
	owner   string
}

// New returns a store keeping its keys under prefix. Several deployments or
// test runs can share one Redis with different prefixes.
func New(rdb redis.UniversalClient, prefix string) (*Store, error) {
	if prefix == "" || strings.ContainsAny(prefix, "{} \t\r\n") {
		return nil, fmt.Errorf("checkpoint: key prefix %q must be non-empty without braces or spaces", prefix)
	}
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Store{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), prefix: prefix, owner: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))}, nil
}

// Keys are the Redis keys of one account.
type Keys struct {
	Cursor, Threads, Lease, Fence, Holder, Timers string
	// Paused, Health, Reset and Backfill hold operators' requests and
	// what they read (control.go, backfill.go).
	Paused, Health, Reset, Backfill string
}

// Keys returns the account's keys, which share the hash tag {provider:id}.
func (s *Store) Keys(a Account) Keys {
	base := s.prefix + ":{" + a.Provider + ":" + a.ID + "}:"
	return Keys{Cursor: base + "cursor", Threads: base + "threads", Lease: base + "lease", Fence: base + "fence", Holder: base + "holder", Timers: base + "timers",
		Paused: base + "paused", Health: base + "health", Reset: base + "reset", Backfill: base + "backfill"}
}

// Cursor returns the account's cursor; the zero Cursor when it has none.
func (s *Store) Cursor(ctx context.Context, a Account) (Cursor, error) {
	b, err := s.rdb.Get(ctx, s.Keys(a).Cursor).Bytes()
	if errors.Is(err, redis.Nil) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("checkpoint: %s: read cursor: %w", a, err)
	}
	c, err := unmarshalCursor(b)
	if err != nil {
		return Cursor{}, fmt.Errorf("checkpoint: %s: %w", a, err)
	}
	return c, nil
}

// Threads returns the stored state of the given threads in one round trip,
// in the order of ids; nil for a thread never seen.
func (s *Store) Threads(ctx context.Context, a Account, ids []string) ([]*ThreadState, error) {
	out := make([]*ThreadState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.Keys(a).Threads, ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: read thread states: %w", a, err)
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		st, err := unmarshalState([]byte(str))
		if err != nil {
			return nil, fmt.Errorf("checkpoint: %s: thread %s: %w", a, ids[i], err)
		}
		out[i] = st
	}
	return out, nil
}

// commitScript checks the lease, extends it, stores the cursor and the
// thread states and applies the page's timer changes (cancels first): the
// whole page lands, or nothing does. It returns the account's earliest
// timer.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST')
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
local i = 4
local nc = tonumber(ARGV[i]); i = i + 1
for j = 1, nc do
  redis.call('ZREM', KEYS[4], 'w:' .. ARGV[i], 'b:' .. ARGV[i]); i = i + 1
end
local ns = tonumber(ARGV[i]); i = i + 1
for j = 1, ns do
  redis.call('ZADD', KEYS[4], ARGV[i + 1], ARGV[i]); i = i + 2
end
local n = #ARGV
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('HSET', KEYS[3], unpack(ARGV, i, j))
  i = j + 1
end
local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
return first[2] or ''
`)

// Commit stores the cursor, the states of the page's threads and its timer
// changes in one atomic round trip, provided lease is still held; it also
// extends the lease. It returns the account's earliest timer (zero: none).
func (s *Store) Commit(ctx context.Context, lease Lease, c Cursor, states map[string]*ThreadState, timers TimerChanges) (time.Time, error) {
	k := s.Keys(lease.Account)
	cur, err := c.marshal()
	if err != nil {
		return time.Time{}, fmt.Errorf("checkpoint: %s: %w", lease.Account, err)
	}
	args := make([]any, 0, 5+len(timers.Cancel)+2*len(timers.Set)+2*len(states))
	args = append(args, lease.Token, lease.TTL.Milliseconds(), cur, len(timers.Cancel))
	for _, id := range timers.Cancel {
		args = append(args, id)
	}
	args = append(args, len(timers.Set))
	for _, t := range timers.Set {
		if t.Kind != Warning && t.Kind != Breach {
			return time.Time{}, fmt.Errorf("checkpoint: %s: thread %s: unknown timer kind %q", lease.Account, t.Thread, t.Kind)
		}
		args = append(args, t.member(), t.score())
	}
	for id, st := range states {
		b, err := st.marshal()
		if err != nil {
			return time.Time{}, fmt.Errorf("checkpoint: %s: thread %s: %w", lease.Account, id, err)
		}
		args = append(args, id, b)
	}
	first, err := commitScript.Run(ctx, s.rdb, []string{k.Lease, k.Cursor, k.Threads, k.Timers}, args...).Text()
	if err != nil {
		if strings.Contains(err.Error(), "LEASELOST") {
			return time.Time{}, fmt.Errorf("checkpoint: %s: %w", lease.Account, ErrLeaseLost)
		}
		return time.Time{}, fmt.Errorf("checkpoint: %s: commit: %w", lease.Account, err)
	}
	return parseScore(first), nil
}

// acquireScript takes the lease when it is free, or extends it when this
// owner already holds it. A new holder gets a token with a higher fence.
// The holder key keeps the last holder's token and when it took the
// account ("<token> <ms>") past the lease's expiry until it releases the
// lease, so a new holder learns whether another worker left without doing
// so, and since when that worker may have published pages. A holder
// taking over from one that did not release keeps that one's time: the
// pages of both may want ending. With the token comes the account's
// earliest timer, so a worker taking an account over learns its deadlines
// without another round trip, and so does the cursor.
var acquireScript = redis.NewScript(`
local paused = redis.call('GET', KEYS[5])
if paused then
  return {'', paused}
end
local cur = redis.call('GET', KEYS[1])
local tok
local unfinished = '0'
if cur then
  if string.sub(cur, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '#' then
    return false
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  tok = cur
else
  local fence = redis.call('INCR', KEYS[2])
  tok = ARGV[1] .. '#' .. fence
  redis.call('SET', KEYS[1], tok, 'PX', ARGV[2])
  local prev = redis.call('GET', KEYS[3])
  local taken = prev and string.match(prev, ' (%d+)$')
  if prev and string.sub(prev, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '#' then
    unfinished = taken or '1'
  end
  if not taken then
    local t = redis.call('TIME')
    taken = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  end
  redis.call('SET', KEYS[3], tok .. ' ' .. taken)
end
local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
local bf = redis.call('GET', KEYS[7])
local backfill = '0'
if bf and not string.find(bf, '"done":', 1, true) then
  backfill = '1'
end
return {tok, first[2] or '', unfinished, redis.call('GET', KEYS[6]) or '', backfill, tostring(redis.call('EXISTS', KEYS[8])), redis.call('GET', KEYS[9]) or ''}
`)

// Acquire takes or extends the account's lease for ttl. It returns
// ErrLeaseHeld when another worker holds it, and a *PausedError when the
// account is paused: then no worker takes it.
func (s *Store) Acquire(ctx context.Context, a Account, ttl time.Duration) (Lease, error) {
	k := s.Keys(a)
	res, err := acquireScript.Run(ctx, s.rdb, []string{k.Lease, k.Fence, k.Holder, k.Timers, k.Paused, k.Reset, k.Backfill, k.Health, k.Cursor}, s.owner, ttl.Milliseconds()).StringSlice()
	if errors.Is(err, redis.Nil) {
		return Lease{}, fmt.Errorf("checkpoint: %s: %w", a, ErrLeaseHeld)
	}
	if err != nil {
		return Lease{}, fmt.Errorf("checkpoint: %s: acquire lease: %w", a, err)
	}
	if len(res) == 2 && res[0] == "" {
		p, err := decodePause(res[1])
		if err != nil {
			return Lease{}, fmt.Errorf("checkpoint: %s: %w", a, err)
		}
		return Lease{}, &PausedError{Account: a, Pause: p}
	}
	if len(res) != 7 {
		return Lease{}, fmt.Errorf("checkpoint: %s: acquire lease: unexpected reply %q", a, res)
	}
	l := Lease{Account: a, Token: res[0], TTL: ttl, NextTimer: parseScore(res[1]), Backfill: res[4] == "1", Failing: res[5] == "1", Cursor: &Cursor{}}
	if res[6] != "" {
		if c, err := unmarshalCursor([]byte(res[6])); err == nil {
			*l.Cursor = c
		} else {
			l.Cursor = nil // Cursor reads it again, and says what is wrong
		}
	}
	if res[3] != "" {
		r, err := decodeReset(res[3])
		if err != nil {
			return Lease{}, fmt.Errorf("checkpoint: %s: %w", a, err)
		}
		l.Reset = &r
	}
	if res[2] != "0" {
		l.Unfinished = true
		if ms, err := strconv.ParseInt(res[2], 10, 64); err == nil && ms > 0 {
			l.PrevTaken = time.UnixMilli(ms)
		}
	}
	return l, nil
}

var extendScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// Extend keeps the lease for another lease.TTL, provided it is still
// held with lease's token; otherwise it returns ErrLeaseLost. A worker
// whose page takes longer than the lease's lifetime (a provider asking it
// to wait, again and again) keeps the account this way.
func (s *Store) Extend(ctx context.Context, lease Lease) error {
	n, err := extendScript.Run(ctx, s.rdb, []string{s.Keys(lease.Account).Lease}, lease.Token, lease.TTL.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("checkpoint: %s: extend lease: %w", lease.Account, err)
	}
	if n == 0 {
		return fmt.Errorf("checkpoint: %s: %w", lease.Account, ErrLeaseLost)
	}
	return nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
local holder = redis.call('GET', KEYS[2])
if ARGV[2] == '0' and holder and string.sub(holder, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then
  redis.call('DEL', KEYS[2])
end
return 0
`)

// Release gives the lease up so another worker can take the account at
// once, and says that this holder left nothing published without its
// commit.
func (s *Store) Release(ctx context.Context, l Lease) error {
	return s.release(ctx, l, "0")
}

// Abandon gives the lease up like Release, but tells the next holder that
// pages this one published may have no commit.
func (s *Store) Abandon(ctx context.Context, l Lease) error {
	return s.release(ctx, l, "1")
}

func (s *Store) release(ctx context.Context, l Lease, unfinished string) error {
	k := s.Keys(l.Account)
	if err := releaseScript.Run(ctx, s.rdb, []string{k.Lease, k.Holder}, l.Token, unfinished).Err(); err != nil {
		return fmt.Errorf("checkpoint: %s: release lease: %w", l.Account, err)
	}
	return nil
}

// workersScript records the worker as alive until now+ttl by Redis's clock
// (so the replicas' clocks need not agree), forgets workers whose time ran
// out, and returns the workers alive.
var workersScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

func (s *Store) workersKey() string { return s.prefix + ":workers" }

// Owner is the worker's id: in its leases and among the workers alive.
func (s *Store) Owner() string { return s.owner }

// Heartbeat says the worker is alive for ttl and returns the ids of the
// workers alive now, this one included, in order.
func (s *Store) Heartbeat(ctx context.Context, ttl time.Duration) ([]string, error) {
	ids, err := workersScript.Run(ctx, s.rdb, []string{s.workersKey()}, s.owner, ttl.Milliseconds()).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: heartbeat: %w", err)
	}
	return ids, nil
}

// Leave removes the worker from the workers alive at once, so the others
// share its accounts without waiting for its heartbeat to lapse.
func (s *Store) Leave(ctx context.Context) error {
	if err := s.rdb.ZRem(ctx, s.workersKey(), s.owner).Err(); err != nil {
		return fmt.Errorf("checkpoint: leave: %w", err)
	}
	return nil
}

// LeaseFree reports whether no worker holds the account's lease.
func (s *Store) LeaseFree(ctx context.Context, a Account) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.Keys(a).Lease).Result()
	if err != nil {
		return false, fmt.Errorf("checkpoint: %s: read lease: %w", a, err)
	}
	return n == 0, nil
}
