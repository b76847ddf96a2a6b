package checkpoint

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TimerKind tells a warning's timer from a breach's.
type TimerKind byte

// The timers of a reply-needed episode under a policy.
const (
	Warning TimerKind = 'w'
	Breach  TimerKind = 'b'
)

// Timer is one deadline of one thread's reply-needed episode. A thread has
// at most one of each kind: an episode replaces its predecessor's.
type Timer struct {
	Kind   TimerKind
	Thread string
	At     time.Time
}

func (t Timer) member() string { return string(t.Kind) + ":" + t.Thread }

// score is the timer's time in Unix milliseconds, rounded up: a timer
// never comes due before its time.
func (t Timer) score() int64 {
	ms := t.At.UnixMilli()
	if t.At.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// TimerChanges are what a page's commit does to the account's timers:
// the timers of the Cancel threads go, then the Set timers are added.
type TimerChanges struct {
	Cancel []string
	Set    []Timer
}

// DueTimer is a timer that is due, with the state of its thread (nil when
// the thread has none).
type DueTimer struct {
	Timer
	State *ThreadState
	// score and raw are the timer's score and the state as read, so that
	// retiring it changes nothing a commit changed meanwhile.
	score, raw string
}

// dueScript returns the timers due by ARGV[1] (at most ARGV[2]) with the
// states of their threads, as member, score, state triples.
var dueScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
if #due == 0 then
  return {}
end
local ids = {}
for i = 1, #due, 2 do
  ids[#ids + 1] = string.sub(due[i], 3)
end
local st = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i = 1, #ids do
  out[#out + 1] = due[2 * i - 1]
  out[#out + 1] = due[2 * i]
  out[#out + 1] = st[i] or ''
end
return out
`)

// DueTimers returns the account's timers due at or before now, earliest
// first, at most n, with their threads' states, in one round trip.
func (s *Store) DueTimers(ctx context.Context, a Account, now time.Time, n int) ([]DueTimer, error) {
	k := s.Keys(a)
	res, err := dueScript.Run(ctx, s.rdb, []string{k.Timers, k.Threads}, now.UnixMilli(), n).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: read due timers: %w", a, err)
	}
	out := make([]DueTimer, 0, len(res)/3)
	for i := 0; i+2 < len(res); i += 3 {
		member, score, state := res[i], res[i+1], res[i+2]
		kind, thread, ok := strings.Cut(member, ":")
		if !ok || len(kind) != 1 {
			return nil, fmt.Errorf("checkpoint: %s: malformed timer %q", a, member)
		}
		t := DueTimer{Timer: Timer{Kind: TimerKind(kind[0]), Thread: thread, At: parseScore(score)}, score: score, raw: state}
		if state != "" {
			if t.State, err = unmarshalState([]byte(state)); err != nil {
				return nil, fmt.Errorf("checkpoint: %s: thread %s: %w", a, thread, err)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// doneScript retires fired timers and stores the states that record them,
// provided the lease is held; a timer whose score moved, or a state that
// changed since it was read, was replaced by a commit and is left alone. It
// returns the earliest timer left after ARGV[2] (exclusive).
var doneScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST')
end
local i = 4
for j = 1, tonumber(ARGV[3]) do
  local s = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
  i = i + 2
end
while i <= #ARGV do
  if (redis.call('HGET', KEYS[3], ARGV[i]) or '') == ARGV[i + 1] then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
  end
  i = i + 3
end
local first = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return first[2] or ''
`)

// DoneTimers retires timers read by DueTimers that fired, and stores the
// states that record what they published (keyed by thread; each thread's
// timer must be among fired), fenced by lease like a commit. A timer or
// state that a commit replaced since it was read is left as the commit
// made it. It returns the account's earliest timer after the given time
// (zero: none).
func (s *Store) DoneTimers(ctx context.Context, lease Lease, fired []DueTimer, states map[string]*ThreadState, after time.Time) (time.Time, error) {
	k := s.Keys(lease.Account)
	args := make([]any, 0, 3+2*len(fired)+3*len(states))
	args = append(args, lease.Token, after.UnixMilli(), len(fired))
	raw := make(map[string]string, len(fired))
	for _, t := range fired {
		args = append(args, t.member(), t.score)
		raw[t.Thread] = t.raw
	}
	for id, st := range states {
		old, ok := raw[id]
		if !ok {
			return time.Time{}, fmt.Errorf("checkpoint: %s: thread %s: a state to record without a timer fired", lease.Account, id)
		}
		b, err := st.marshal()
		if err != nil {
			return time.Time{}, fmt.Errorf("checkpoint: %s: thread %s: %w", lease.Account, id, err)
		}
		args = append(args, id, old, b)
	}
	first, err := doneScript.Run(ctx, s.rdb, []string{k.Lease, k.Timers, k.Threads}, args...).Text()
	if err != nil {
		if strings.Contains(err.Error(), "LEASELOST") {
			return time.Time{}, fmt.Errorf("checkpoint: %s: %w", lease.Account, ErrLeaseLost)
		}
		return time.Time{}, fmt.Errorf("checkpoint: %s: retire fired timers: %w", lease.Account, err)
	}
	return parseScore(first), nil
}

// parseScore reads a timer's score (Unix milliseconds); zero for none.
func parseScore(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms)).UTC()
}
