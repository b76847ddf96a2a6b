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

// Backfill is a backfill of an account: the request and, once a worker
// works on it, how far it has come. It is kept after it is done, so that
// the command that asked for it can say so, until the next one replaces it.
type Backfill struct {
	ID string `json:"id"`
	// Since, when set, limits the backfill to the threads and messages
	// of that time or later.
	Since time.Time `json:"since,omitzero"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`

	// Token and State continue the walk of the thread list where the
	// last committed page left it.
	Token string `json:"token,omitempty"`
	State string `json:"state,omitempty"`
	// Total is how many threads the account's state held when the
	// backfill began; Walked how many threads of the list it has looked
	// at, Threads how many it published history for, Events how many
	// events that took.
	Total   int64 `json:"total"`
	Walked  int64 `json:"walked"`
	Threads int64 `json:"threads"`
	Events  int64 `json:"events"`
	// Started is when a worker began it; Done when it finished.
	Started time.Time `json:"started,omitzero"`
	Done    time.Time `json:"done,omitzero"`
	// Error is the last failure of a page, which is tried again.
	Error string `json:"error,omitempty"`
}

// ErrBackfillRunning is returned by RequestBackfill while another backfill
// of the account is not done.
var ErrBackfillRunning = errors.New("a backfill of the account is under way")

// RequestBackfill asks for a backfill of the account, unless one is under
// way; then it returns that one and ErrBackfillRunning.
func (s *Store) RequestBackfill(ctx context.Context, a Account, b Backfill) (Backfill, error) {
	cur, err := s.Backfill(ctx, a)
	if err != nil {
		return Backfill{}, err
	}
	if cur != nil && cur.Done.IsZero() {
		return *cur, ErrBackfillRunning
	}
	if err := s.setJSON(ctx, a, s.Keys(a).Backfill, "request backfill", b); err != nil {
		return Backfill{}, err
	}
	return b, nil
}

// Backfill returns the account's backfill; nil when none was asked for.
func (s *Store) Backfill(ctx context.Context, a Account) (*Backfill, error) {
	return getJSON[Backfill](ctx, s, a, s.Keys(a).Backfill, "backfill")
}

// ThreadCount counts the threads of the account's state.
func (s *Store) ThreadCount(ctx context.Context, a Account) (int64, error) {
	n, err := s.rdb.HLen(ctx, s.Keys(a).Threads).Result()
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %s: count threads: %w", a, err)
	}
	return n, nil
}

// backfillScript commits one page of a backfill: the threads whose skipped
// history was published, and the backfill's progress, fenced by the lease
// and only while the backfill is the one the page belongs to.
var backfillScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASELOST')
end
local cur = redis.call('GET', KEYS[3])
if not cur or not string.find(cur, ARGV[3], 1, true) then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4])
local n = #ARGV
local i = 5
while i <= n do
  local j = math.min(i + 999, n)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, j))
  i = j + 1
end
return 1
`)

// CommitBackfill stores a backfill page's thread states and the
// backfill's progress in one atomic round trip, under lease. ok is false
// when the backfill was replaced meanwhile: nothing is stored.
func (s *Store) CommitBackfill(ctx context.Context, lease Lease, b Backfill, states map[string]*ThreadState) (ok bool, err error) {
	k := s.Keys(lease.Account)
	enc, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	id, _ := json.Marshal(b.ID)
	args := make([]any, 0, 4+2*len(states))
	args = append(args, lease.Token, lease.TTL.Milliseconds(), `"id":`+string(id)+`,`, enc)
	for tid, st := range states {
		v, err := st.marshal()
		if err != nil {
			return false, fmt.Errorf("checkpoint: %s: thread %s: %w", lease.Account, tid, err)
		}
		args = append(args, tid, v)
	}
	n, err := backfillScript.Run(ctx, s.rdb, []string{k.Lease, k.Threads, k.Backfill}, args...).Int()
	if err != nil {
		if strings.Contains(err.Error(), "LEASELOST") {
			return false, fmt.Errorf("checkpoint: %s: %w", lease.Account, ErrLeaseLost)
		}
		return false, fmt.Errorf("checkpoint: %s: commit backfill: %w", lease.Account, err)
	}
	return n == 1, nil
}
