package pollers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/events"
)

// The health of an account: a run of failed polls is recorded in the store
// (so that operators and the next holder see it), announced with
// AccountFailing once it is long enough or the credentials are refused,
// and ended with AccountRecovered. Credentials refused for
// Config.AutoPauseAfter pause the account.

// errorClass names what kind of account failure (accountFailure) err is,
// for AccountFailing.
func errorClass(err error) string {
	var he *HTTPError
	switch {
	case errors.Is(err, ErrAuth):
		return "auth"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTokenExpired):
		return "malformed"
	case errors.As(err, &he):
		return "provider"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, new(net.Error)), errors.As(err, new(cutBody)):
		return "network"
	}
	return "other"
}

// accountFailure says whether err is the account's own failure: not an
// outage of Redis or NATS, which every account meets at once, and not a
// pause the provider's rate limit asked for, which heals on its own.
func accountFailure(err error) bool {
	return dependency(err) == "" && !errors.Is(err, ErrRateLimited)
}

// maxErrorText bounds the error text kept in the store and in events.
const maxErrorText = 500

// loadHealth returns the run of failures in progress, read from the store
// the first time (a run begun under the previous holder goes on).
func (r *runner) loadHealth(ctx context.Context) (*checkpoint.Health, error) {
	if r.healthLoaded {
		return r.health, nil
	}
	h, err := r.cfg.Store.Health(ctx, r.ck)
	if err != nil {
		return nil, err
	}
	r.health, r.healthLoaded = h, true
	return h, nil
}

// failed records a failed poll of the account.
func (r *runner) failed(ctx context.Context, err error) {
	if !accountFailure(err) {
		return
	}
	h, lerr := r.loadHealth(ctx)
	if lerr != nil {
		r.log.Debug("read the account's health", "error", lerr)
		return
	}
	now := time.Now()
	if h == nil {
		h = &checkpoint.Health{Since: now}
	}
	h.Failures++
	h.Class, h.Error = errorClass(err), err.Error()
	if len(h.Error) > maxErrorText {
		h.Error = h.Error[:maxErrorText] + "…"
	}
	if errors.Is(err, ErrAuth) {
		if h.AuthSince.IsZero() {
			h.AuthSince = now
		}
	} else {
		h.AuthSince = time.Time{}
	}
	if !h.Announced && (h.Failures >= r.cfg.FailingAfter || errors.Is(err, ErrAuth)) {
		ev := events.NewAccountEvent(r.origin, events.AccountFailing, events.AccountState{
			Since: h.Since, Failures: h.Failures, ErrorClass: h.Class, Error: h.Error,
		})
		if perr := r.publishOne(ctx, ev); perr != nil {
			r.log.Warn("publish AccountFailing", "error", perr)
		} else {
			h.Announced = true
			r.log.Warn("account failing", "failures", h.Failures, "since", h.Since.Format(time.RFC3339), "class", h.Class)
		}
	}
	if serr := r.cfg.Store.SetHealth(ctx, r.ck, *h); serr != nil {
		r.log.Debug("record the account's health", "error", serr)
	}
	r.health = h
	if r.cfg.AutoPauseAfter > 0 && !h.AuthSince.IsZero() && now.Sub(h.AuthSince) >= r.cfg.AutoPauseAfter {
		r.autoPause(ctx, h, now)
	}
}

// autoPause pauses an account whose credentials have been refused for
// Config.AutoPauseAfter: polling it only spends the provider's patience.
func (r *runner) autoPause(ctx context.Context, h *checkpoint.Health, now time.Time) {
	p := checkpoint.Pause{
		By:     "threadsync",
		Reason: fmt.Sprintf("credentials refused since %s (for longer than THREADSYNC_AUTO_PAUSE_AFTER, %s)", h.AuthSince.UTC().Format(time.RFC3339), r.cfg.AutoPauseAfter),
		At:     now,
	}
	p, set, err := r.cfg.Store.Pause(ctx, r.ck, p)
	if err != nil {
		r.log.Warn("pause the account", "error", err)
		return
	}
	if !set {
		return
	}
	r.log.Warn("account paused: its credentials keep being refused; `threadsync resume` polls it again", "reason", p.Reason)
	if err := r.publishOne(ctx, PausedEvent(r.origin, p)); err != nil {
		r.log.Warn("publish AccountPaused", "error", err)
	}
}

// PausedEvent is the AccountPaused event of a pause.
func PausedEvent(o events.Origin, p checkpoint.Pause) events.Event {
	return events.NewAccountEvent(o, events.AccountPaused, events.AccountState{Since: p.At, By: p.By, Reason: p.Reason})
}

// succeeded ends the run of failures in progress, if any.
func (r *runner) succeeded(ctx context.Context) {
	h, err := r.loadHealth(ctx)
	if err != nil || h == nil {
		return
	}
	if h.Announced {
		ev := events.NewAccountEvent(r.origin, events.AccountRecovered, events.AccountState{Since: h.Since, Failures: h.Failures})
		if err := r.publishOne(ctx, ev); err != nil {
			// Kept: the next successful poll announces it.
			r.log.Warn("publish AccountRecovered", "error", err)
			return
		}
	}
	if err := r.cfg.Store.ClearHealth(ctx, r.ck); err != nil {
		r.log.Debug("clear the account's health", "error", err)
		return
	}
	r.health = nil
}

// publishOne publishes one event and waits for its acknowledgement.
func (r *runner) publishOne(ctx context.Context, ev events.Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return r.cfg.Publisher.Send(ctx, []events.Event{ev}).Wait(ctx)
}
