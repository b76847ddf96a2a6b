package checkpoint

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// QuotaKeys are the Redis keys of a shared quota: the GCRA state kept by
// redis_rate (which prefixes its keys with "rate:") and the pause, a key
// whose time to live is what is left of the pause, by Redis's clock. Both
// carry the hash tag {name}.
func (s *Store) QuotaKeys(name string) (rate, paused string) {
	base := s.prefix + ":quota:{" + name + "}"
	return "rate:" + base, base + ":paused"
}

// pauseScript sets the pause unless one that ends later is already set.
var pauseScript = redis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
`)

func validQuota(name string) error {
	if name == "" || strings.ContainsAny(name, "{} \t\r\n") {
		return fmt.Errorf("checkpoint: quota name %q must be non-empty without braces or spaces", name)
	}
	return nil
}

// TakeQuota spends one request of the quota's budget of rps requests per
// second (GCRA, with a burst of rps rounded down, at least 1). It returns
// zero when the request may go, otherwise how long to wait before asking
// again: the budget is spent, or the quota is paused.
func (s *Store) TakeQuota(ctx context.Context, name string, rps float64) (time.Duration, error) {
	if err := validQuota(name); err != nil {
		return 0, err
	}
	if rps <= 0 || math.IsInf(rps, 0) || math.IsNaN(rps) {
		return 0, fmt.Errorf("checkpoint: quota %s: rate %g must be a positive number", name, rps)
	}
	rateKey, pausedKey := s.QuotaKeys(name)
	left, err := s.rdb.PTTL(ctx, pausedKey).Result()
	if err != nil {
		return 0, fmt.Errorf("checkpoint: quota %s: read pause: %w", name, err)
	}
	if left > 0 {
		return left, nil
	}
	// redis_rate counts whole requests per period: a rate of 2.5/s is
	// 2,500 per 1,000 s, the same emission interval.
	limit := redis_rate.Limit{Rate: max(1, int(math.Round(rps*1000))), Period: 1000 * time.Second, Burst: max(1, int(rps))}
	res, err := s.limiter.Allow(ctx, strings.TrimPrefix(rateKey, "rate:"), limit)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: quota %s: %w", name, err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

// PauseQuota pauses every account of the quota for d, by Redis's clock; a
// pause that ends later stays.
func (s *Store) PauseQuota(ctx context.Context, name string, d time.Duration) error {
	if err := validQuota(name); err != nil {
		return err
	}
	ms := d.Milliseconds()
	if ms <= 0 {
		return nil
	}
	_, pausedKey := s.QuotaKeys(name)
	if err := pauseScript.Run(ctx, s.rdb, []string{pausedKey}, ms).Err(); err != nil {
		return fmt.Errorf("checkpoint: quota %s: pause: %w", name, err)
	}
	return nil
}
