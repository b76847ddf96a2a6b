package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrPaused marks an account that is paused: no worker polls it.
var ErrPaused = errors.New("account paused")

// Pause says who paused an account, when and why.
type Pause struct {
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// PausedError is Acquire's answer for a paused account.
type PausedError struct {
	Account Account
	Pause   Pause
}

func (e *PausedError) Error() string {
	s := fmt.Sprintf("checkpoint: %s: account paused by %s at %s", e.Account, e.Pause.By, e.Pause.At.UTC().Format(time.RFC3339))
	if e.Pause.Reason != "" {
		s += ": " + e.Pause.Reason
	}
	return s
}

// Is makes a PausedError match ErrPaused.
func (e *PausedError) Is(target error) bool { return target == ErrPaused }

func decodePause(s string) (Pause, error) {
	var p Pause
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Pause{}, fmt.Errorf("decode pause: %w", err)
	}
	return p, nil
}

// Pause pauses the account: from its next poll on, no worker takes its
// lease. It returns the pause in force and whether this call set it (false:
// the account was paused already, and stays paused as it was).
func (s *Store) Pause(ctx context.Context, a Account, p Pause) (Pause, bool, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return Pause{}, false, err
	}
	k := s.Keys(a).Paused
	prev, err := s.rdb.SetArgs(ctx, k, b, redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return p, true, nil
	case err != nil:
		return Pause{}, false, fmt.Errorf("checkpoint: %s: pause: %w", a, err)
	}
	old, err := decodePause(prev)
	if err != nil {
		return Pause{}, false, fmt.Errorf("checkpoint: %s: %w", a, err)
	}
	return old, false, nil
}

// Resume lifts the account's pause and returns it; ok is false when the
// account was not paused.
func (s *Store) Resume(ctx context.Context, a Account) (p Pause, ok bool, err error) {
	prev, err := s.rdb.GetDel(ctx, s.Keys(a).Paused).Result()
	if errors.Is(err, redis.Nil) {
		return Pause{}, false, nil
	}
	if err != nil {
		return Pause{}, false, fmt.Errorf("checkpoint: %s: resume: %w", a, err)
	}
	p, err = decodePause(prev)
	if err != nil {
		return Pause{}, true, fmt.Errorf("checkpoint: %s: %w", a, err)
	}
	return p, true, nil
}

// Health is what the worker polling an account records of a run of failed
// polls, so that commands and other replicas can read it. It is written
// only while polls fail, never in steady state.
type Health struct {
	// Failures counts consecutive failed polls; Since is the first.
	Failures int       `json:"n"`
	Since    time.Time `json:"s"`
	// Class and Error describe the last failure, redacted.
	Class string `json:"c,omitempty"`
	Error string `json:"e,omitempty"`
	// AuthSince is when the provider began refusing the credentials, in
	// this run; zero when the last failure was another one.
	AuthSince time.Time `json:"a,omitzero"`
	// Announced: AccountFailing was published for this run.
	Announced bool `json:"p,omitempty"`
}

// SetHealth records the account's run of failures.
func (s *Store) SetHealth(ctx context.Context, a Account, h Health) error {
	return s.setJSON(ctx, a, s.Keys(a).Health, "record health", h)
}

// ClearHealth forgets the account's run of failures once a poll succeeds.
func (s *Store) ClearHealth(ctx context.Context, a Account) error {
	if err := s.rdb.Del(ctx, s.Keys(a).Health).Err(); err != nil {
		return fmt.Errorf("checkpoint: %s: clear health: %w", a, err)
	}
	return nil
}

// Inspection is what the store knows of one account, for operators.
type Inspection struct {
	Cursor    Cursor
	HasCursor bool
	// Paused is the pause in force; nil when the account is not paused.
	Paused *Pause
	// Holder is the worker holding the lease; empty when none does.
	Holder string
	// Health is the run of failures in progress; nil when the last poll
	// succeeded.
	Health *Health
	// Threads is how many threads the account's state records.
	Threads int64
	// Reset is a reset not carried out yet, Backfill the last backfill
	// asked for; nil when none.
	Reset    *ResetRequest
	Backfill *Backfill
}

// Inspect reads what the store knows of the account in one round trip.
func (s *Store) Inspect(ctx context.Context, a Account) (Inspection, error) {
	k := s.Keys(a)
	pipe := s.rdb.Pipeline()
	vals := pipe.MGet(ctx, k.Cursor, k.Paused, k.Lease, k.Health, k.Reset, k.Backfill)
	threads := pipe.HLen(ctx, k.Threads)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Inspection{}, fmt.Errorf("checkpoint: %s: inspect: %w", a, err)
	}
	var in Inspection
	v := vals.Val()
	str := func(i int) (string, bool) {
		if i >= len(v) {
			return "", false
		}
		s, ok := v[i].(string)
		return s, ok
	}
	if c, ok := str(0); ok {
		cur, err := unmarshalCursor([]byte(c))
		if err != nil {
			return Inspection{}, fmt.Errorf("checkpoint: %s: %w", a, err)
		}
		in.Cursor, in.HasCursor = cur, true
	}
	if p, ok := str(1); ok {
		pause, err := decodePause(p)
		if err != nil {
			return Inspection{}, fmt.Errorf("checkpoint: %s: %w", a, err)
		}
		in.Paused = &pause
	}
	if l, ok := str(2); ok {
		// The lease holds "<owner>#<fence>".
		in.Holder, _, _ = strings.Cut(l, "#")
	}
	if h, ok := str(3); ok {
		var health Health
		if err := json.Unmarshal([]byte(h), &health); err != nil {
			return Inspection{}, fmt.Errorf("checkpoint: %s: decode health: %w", a, err)
		}
		in.Health = &health
	}
	if r, ok := str(4); ok {
		req, err := decodeReset(r)
		if err != nil {
			return Inspection{}, fmt.Errorf("checkpoint: %s: %w", a, err)
		}
		in.Reset = &req
	}
	if b, ok := str(5); ok {
		var bf Backfill
		if err := json.Unmarshal([]byte(b), &bf); err != nil {
			return Inspection{}, fmt.Errorf("checkpoint: %s: decode backfill: %w", a, err)
		}
		in.Backfill = &bf
	}
	in.Threads = threads.Val()
	return in, nil
}

// Health returns the account's run of failures; nil when none is recorded.
func (s *Store) Health(ctx context.Context, a Account) (*Health, error) {
	return getJSON[Health](ctx, s, a, s.Keys(a).Health, "health")
}

func (s *Store) kickChannel() string { return s.prefix + ":kick" }

// Kick asks the workers to poll the account now; the one holding it does.
// It returns how many workers heard it (0: none is running).
func (s *Store) Kick(ctx context.Context, a Account) (int64, error) {
	n, err := s.rdb.Publish(ctx, s.kickChannel(), a.Provider+"/"+a.ID).Result()
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %s: kick: %w", a, err)
	}
	return n, nil
}

// Kicks delivers the accounts Kick names until ctx ends. A kick sent while
// the subscription is down is lost: it only hastens a poll that comes
// anyway.
func (s *Store) Kicks(ctx context.Context) <-chan Account {
	out := make(chan Account, 64)
	sub := s.rdb.Subscribe(ctx, s.kickChannel())
	go func() {
		defer close(out)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				p, id, found := strings.Cut(m.Payload, "/")
				if !found {
					continue
				}
				select {
				case out <- Account{Provider: p, ID: id}:
				default:
					// A burst of kicks: the accounts already asked poll anyway.
				}
			}
		}
	}()
	return out
}

// ResetRequest is an operator's request to start an account over.
type ResetRequest struct {
	// ID tells one request from another, so that a worker carries out
	// the one it read and no later one in its name.
	ID string `json:"id"`
	// InitialSync is what the new first walk publishes: full or from_now.
	InitialSync string    `json:"initial_sync"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
	raw         string    // as stored, for Reset to compare
}

func decodeReset(s string) (ResetRequest, error) {
	var r ResetRequest
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return ResetRequest{}, fmt.Errorf("decode reset request: %w", err)
	}
	r.raw = s
	return r, nil
}

// RequestReset asks the worker that next polls the account to start it
// over; a pending request is replaced.
func (s *Store) RequestReset(ctx context.Context, a Account, r ResetRequest) error {
	return s.setJSON(ctx, a, s.Keys(a).Reset, "request reset", r)
}

// PendingReset returns the reset request not carried out yet; nil when none.
func (s *Store) PendingReset(ctx context.Context, a Account) (*ResetRequest, error) {
	v, err := s.rdb.Get(ctx, s.Keys(a).Reset).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: read reset request: %w", a, err)
	}
	r, err := decodeReset(v)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", a, err)
	}
	return &r, nil
}

// resetScript carries out a reset request, fenced by the lease like a
// commit and only if the request is still the one read: the account's
// cursor, thread states, timers and backfill go, and a new cursor says what
// the first walk publishes.
var resetScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST')
end
if redis.call('GET', KEYS[6]) ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('SET', KEYS[2], ARGV[3])
return 1
`)

// Reset carries out r under lease. done is false when the request was
// carried out already, or replaced by another.
func (s *Store) Reset(ctx context.Context, lease Lease, r ResetRequest) (done bool, err error) {
	k := s.Keys(lease.Account)
	req := r.raw
	if req == "" {
		b, err := json.Marshal(r)
		if err != nil {
			return false, err
		}
		req = string(b)
	}
	cur, err := Cursor{InitialSync: r.InitialSync}.marshal()
	if err != nil {
		return false, err
	}
	n, err := resetScript.Run(ctx, s.rdb, []string{k.Lease, k.Cursor, k.Threads, k.Timers, k.Backfill, k.Reset}, lease.Token, req, cur).Int()
	if err != nil {
		if strings.Contains(err.Error(), "LEASELOST") {
			return false, fmt.Errorf("checkpoint: %s: %w", lease.Account, ErrLeaseLost)
		}
		return false, fmt.Errorf("checkpoint: %s: reset: %w", lease.Account, err)
	}
	return n == 1, nil
}

// setJSON stores v as JSON at key; what names it in errors.
func (s *Store) setJSON(ctx context.Context, a Account, key, what string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.rdb.Set(ctx, key, b, 0).Err(); err != nil {
		return fmt.Errorf("checkpoint: %s: %s: %w", a, what, err)
	}
	return nil
}

// getJSON reads the JSON at key; nil when key is absent. what names it in
// errors.
func getJSON[T any](ctx context.Context, s *Store, a Account, key, what string) (*T, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: read %s: %w", a, what, err)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("checkpoint: %s: decode %s: %w", a, what, err)
	}
	return v, nil
}
