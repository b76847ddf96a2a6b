package pollers

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer decides when an account may send its next request. It learns from
// the answers: a 429 pauses the account until the provider's Retry-After and
// halves its rate, which then grows back by a tenth of the configured rate
// per second (additive increase, multiplicative decrease); rate-limit headers
// slow it before the quota runs out. With a shared quota it also takes a
// token from the quota's budget in Redis, and a pause seen by one account
// pauses all of the quota's accounts.
type pacer struct {
	quota *sharedQuota // nil: the account is its own quota

	mu       sync.Mutex
	lim      *rate.Limiter
	ceiling  rate.Limit // the configured rate
	lowered  rate.Limit // the rate after the last decrease
	loweredT time.Time  // when it was lowered; zero when not lowered
	capped   rate.Limit // a cap the rate-limit headers set; 0 for none
	cappedT  time.Time  // until when the cap holds
	until    time.Time  // paused until
	now      func() time.Time
}

// minRate is the lowest rate multiplicative decrease reaches; a provider
// that wants slower says so with Retry-After or its rate-limit headers.
const minRate = rate.Limit(0.2)

func newPacer(rps float64) *pacer {
	p := &pacer{lim: rate.NewLimiter(rate.Inf, 1), ceiling: rate.Inf, now: time.Now}
	if rps > 0 {
		p.ceiling = rate.Limit(rps)
		p.lim.SetLimit(p.ceiling)
		p.lim.SetBurst(max(1, int(rps)))
	}
	return p
}

// errPausedPastDeadline is returned by wait when the account's pause ends
// after the deadline; the request is not sent.
type errPausedPastDeadline struct{ until time.Time }

func (e errPausedPastDeadline) Is(target error) bool { return target == ErrRateLimited }

func (e errPausedPastDeadline) Error() string {
	return fmt.Sprintf("account paused by the provider's rate limit until %s", e.until.UTC().Format(time.RFC3339))
}

// wait returns once the account may send a request: its pause (and its
// quota's) is over and the rate allows one more. It fails at once when
// the pause lasts beyond deadline (zero: no deadline).
func (p *pacer) wait(ctx context.Context, deadline time.Time) error {
	for {
		p.mu.Lock()
		p.adjust()
		until := p.until
		p.mu.Unlock()
		if d := time.Until(until); d > 0 {
			if !deadline.IsZero() && until.After(deadline) {
				return errPausedPastDeadline{until}
			}
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if err := p.lim.Wait(ctx); err != nil {
			return err
		}
		if p.quota == nil {
			return nil
		}
		d, err := p.quota.take(ctx)
		if err != nil {
			return err
		}
		if d <= 0 {
			return nil
		}
		// The quota is spent or paused by another account: wait as if this
		// account were paused, so the deadline applies the same way.
		p.pauseLocal(d)
	}
}

// pausedFor is how long the account is still paused.
func (p *pacer) pausedFor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(0, p.until.Sub(p.now()))
}

// pauseLocal pauses this account for d (never shortening a pause).
func (p *pacer) pauseLocal(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.now().Add(d); u.After(p.until) {
		p.until = u
	}
}

// throttled records a 429 that asks for wait: the account (and its quota)
// pauses for it and the rate halves.
func (p *pacer) throttled(ctx context.Context, wait time.Duration) {
	p.mu.Lock()
	now := p.now()
	if u := now.Add(wait); u.After(p.until) {
		p.until = u
	}
	cur := p.lim.Limit()
	if cur == rate.Inf {
		cur = p.ceiling
	}
	if cur != rate.Inf {
		p.lowered, p.loweredT = max(minRate, min(cur/2, p.ceiling)), now
		p.lim.SetLimit(p.lowered)
		p.lim.SetBurst(1)
	}
	p.mu.Unlock()
	if p.quota != nil && wait > 0 {
		p.quota.pause(ctx, wait)
	}
}

// adjust recomputes the rate: the lowered rate grows back by a tenth of the
// ceiling per second, and a header cap holds until its window ends. p.mu
// is held.
func (p *pacer) adjust() {
	if p.ceiling == rate.Inf {
		return
	}
	now := p.now()
	r := p.ceiling
	if !p.loweredT.IsZero() {
		grown := p.lowered + p.ceiling/10*rate.Limit(now.Sub(p.loweredT).Seconds())
		if grown >= p.ceiling {
			p.loweredT = time.Time{}
		} else {
			r = grown
		}
	}
	if p.capped > 0 {
		if now.Before(p.cappedT) {
			r = min(r, p.capped)
		} else {
			p.capped = 0
		}
	}
	if r != p.lim.Limit() {
		p.lim.SetLimit(r)
		if r == p.ceiling {
			p.lim.SetBurst(max(1, int(p.ceiling)))
		} else {
			p.lim.SetBurst(1)
		}
	}
}

// observe reads the rate-limit headers of any answer. When the remaining
// quota spent at the current rate would run out before the window resets,
// the rate drops to what the quota allows until then; with none left the
// account pauses until the reset.
func (p *pacer) observe(ctx context.Context, h http.Header, dailyReset func(time.Time) time.Time) {
	now := p.now()
	remaining, reset, ok := quotaLeft(h, now, dailyReset)
	if !ok {
		return
	}
	window := reset.Sub(now)
	if window <= 0 {
		return
	}
	if remaining <= 0 {
		p.pauseLocal(window)
		if p.quota != nil {
			// Spent for one account of a quota is spent for all of them.
			p.quota.pause(ctx, window)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	allowed := rate.Limit(remaining / window.Seconds())
	cur := p.lim.Limit()
	if cur == rate.Inf || allowed < cur {
		p.capped, p.cappedT = allowed, reset
		p.lim.SetLimit(allowed)
		p.lim.SetBurst(1)
	}
}

// quotaLeft reads the most restrictive quota the headers state: how many
// requests are left and when the window resets. It knows HubSpot's
// X-HubSpot-RateLimit-* (a rolling window, and the daily allowance), the
// IETF RateLimit and RateLimit-Policy fields (structured, as in the
// current draft, and the older limit=, remaining=, reset= form and
// RateLimit-Remaining / RateLimit-Reset), and the common
// X-RateLimit-Remaining / X-RateLimit-Reset (seconds, or a Unix time).
func quotaLeft(h http.Header, now time.Time, dailyReset func(time.Time) time.Time) (remaining float64, reset time.Time, ok bool) {
	best := math.Inf(1) // the lowest rate the quotas allow
	consider := func(r float64, at time.Time) {
		if r < 0 || !at.After(now) {
			return
		}
		if allowed := r / at.Sub(now).Seconds(); allowed < best {
			best, remaining, reset, ok = allowed, r, at, true
		}
	}
	num := func(name string) (float64, bool) {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	// HubSpot: a rolling window, so the whole interval is the safe reset.
	if r, okR := num("X-HubSpot-RateLimit-Remaining"); okR {
		if ms, okI := num("X-HubSpot-RateLimit-Interval-Milliseconds"); okI && ms > 0 {
			consider(r, now.Add(time.Duration(ms*float64(time.Millisecond))))
		}
	}
	if r, okR := num("X-HubSpot-RateLimit-Daily-Remaining"); okR {
		at := nextUTCMidnight(now)
		if dailyReset != nil {
			at = dailyReset(now)
		}
		consider(r, at)
	}
	// IETF RateLimit, current draft: `"name";r=50;t=30`, with the window of
	// the same policy (`"name";q=100;w=60`) when t is absent.
	var windows map[string]float64
	for _, item := range listItems(h.Values("RateLimit-Policy")) {
		if windows == nil {
			windows = map[string]float64{}
		}
		name, params := structuredItem(item)
		if w, err := strconv.ParseFloat(params["w"], 64); err == nil && w > 0 {
			windows[name] = w
		}
	}
	// Members of one policy, or the bare limit=, remaining=, reset= members
	// of the older drafts, are read together.
	var groups map[string]map[string]string
	for _, item := range listItems(h.Values("RateLimit")) {
		if groups == nil {
			groups = map[string]map[string]string{}
		}
		name, params := structuredItem(item)
		g := groups[name]
		if g == nil {
			g = map[string]string{}
			groups[name] = g
		}
		maps.Copy(g, params)
	}
	for name, params := range groups {
		rs, okR := params["r"]
		if !okR {
			rs, okR = params["remaining"]
		}
		r, err := strconv.ParseFloat(rs, 64)
		if !okR || err != nil {
			continue
		}
		ts, okT := params["t"]
		if !okT {
			ts, okT = params["reset"]
		}
		t, err := strconv.ParseFloat(ts, 64)
		if !okT || err != nil {
			if t, okT = windows[name]; !okT {
				continue
			}
		}
		consider(r, now.Add(time.Duration(t*float64(time.Second))))
	}
	// The separate fields of earlier drafts, and the X- convention.
	for _, pre := range []string{"RateLimit-", "X-RateLimit-"} {
		r, okR := num(pre + "Remaining")
		t, okT := num(pre + "Reset")
		if !okR || !okT {
			continue
		}
		at := now.Add(time.Duration(t * float64(time.Second)))
		if t > 1e9 { // a Unix time, as GitHub sends
			at = time.Unix(int64(t), 0)
		}
		consider(r, at)
	}
	return remaining, reset, ok
}

// listItems splits the members of structured-field lists, which may come
// in several header lines; quoted commas are not expected in these fields.
func listItems(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// structuredItem reads `"name";k=v;k=v` (or a bare `k=v`, as the older
// drafts send each member) into its name and parameters.
func structuredItem(item string) (name string, params map[string]string) {
	params = map[string]string{}
	parts := strings.Split(item, ";")
	first := strings.TrimSpace(parts[0])
	if k, v, isParam := strings.Cut(first, "="); isParam && !strings.HasPrefix(first, `"`) {
		params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
	} else {
		name = strings.Trim(first, `"`)
	}
	for _, p := range parts[1:] {
		if k, v, ok := strings.Cut(p, "="); ok {
			params[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return name, params
}

func nextUTCMidnight(now time.Time) time.Time {
	u := now.UTC()
	return time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
