package pollers

import (
	"context"
	"fmt"
	"time"
)

// Quotas keeps the request budgets that accounts with the same `quota`
// option share, in a store every replica sees (*checkpoint.Store, on
// Redis), so that all replicas together stay within the budget.
type Quotas interface {
	// TakeQuota spends one request of the quota's budget of rps requests
	// per second. It returns zero when the request may go, otherwise how
	// long to wait before asking again: the budget is spent, or the quota
	// is paused.
	TakeQuota(ctx context.Context, name string, rps float64) (time.Duration, error)
	// PauseQuota pauses every account of the quota for d, by the store's
	// clock; a pause that ends later stays.
	PauseQuota(ctx context.Context, name string, d time.Duration) error
}

// sharedQuota is one account's handle on its quota.
type sharedQuota struct {
	store Quotas
	name  string
	rps   float64
}

func (q *sharedQuota) take(ctx context.Context) (time.Duration, error) {
	d, err := q.store.TakeQuota(ctx, q.name, q.rps)
	if err != nil {
		return 0, fmt.Errorf("%w: quota %s: %w", ErrStore, q.name, err)
	}
	return d, nil
}

// pause tells the quota's other accounts. It is best effort: this account
// pauses locally in any case, and the others learn of the limit from their
// own refusals if the store cannot be reached.
func (q *sharedQuota) pause(ctx context.Context, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = q.store.PauseQuota(ctx, q.name, d)
}
