package pollers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
)

func TestQuotaLeftReadsEveryConvention(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name      string
		h         http.Header
		remaining float64
		reset     time.Duration // from now
		ok        bool
	}{
		{"none", hdr(), 0, 0, false},
		{"hubspot window", hdr("X-HubSpot-RateLimit-Max", "100", "X-HubSpot-RateLimit-Remaining", "7", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000"), 7, 10 * time.Second, true},
		{"hubspot daily is the tighter", hdr("X-HubSpot-RateLimit-Remaining", "90", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Daily-Remaining", "12"), 12, 12 * time.Hour, true},
		{"ietf structured", hdr("RateLimit-Policy", `"burst";q=100;w=60`, "RateLimit", `"burst";r=5;t=30`), 5, 30 * time.Second, true},
		{"ietf structured, window from the policy", hdr("RateLimit-Policy", `"day";q=1000;w=86400, "burst";q=10;w=2`, "RateLimit", `"burst";r=4`), 4, 2 * time.Second, true},
		{"ietf older combined", hdr("RateLimit", "limit=100, remaining=50, reset=5"), 50, 5 * time.Second, true},
		{"ietf separate fields", hdr("RateLimit-Limit", "10", "RateLimit-Remaining", "3", "RateLimit-Reset", "4"), 3, 4 * time.Second, true},
		{"x-ratelimit seconds", hdr("X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "20"), 0, 20 * time.Second, true},
		{"x-ratelimit unix time", hdr("X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "1772366460"), 2, time.Minute, true},
		{"remaining without a reset says nothing", hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "59"), 0, 0, false},
		{"garbage", hdr("X-RateLimit-Remaining", "lots", "X-RateLimit-Reset", "-1", "RateLimit", `"x";r=abc`), 0, 0, false},
	}
	for _, c := range cases {
		r, at, ok := quotaLeft(c.h, now, nil)
		if ok != c.ok || (ok && (r != c.remaining || !at.Equal(now.Add(c.reset)))) {
			t.Errorf("%s: remaining %g, reset in %s, ok %v; want %g, %s, %v", c.name, r, at.Sub(now), ok, c.remaining, c.reset, c.ok)
		}
	}
	// A provider's own daily reset replaces midnight UTC.
	h := hdr("X-HubSpot-RateLimit-Daily-Remaining", "0")
	_, at, _ := quotaLeft(h, now, func(time.Time) time.Time { return now.Add(3 * time.Hour) })
	if !at.Equal(now.Add(3 * time.Hour)) {
		t.Errorf("daily reset %s, want the provider's", at)
	}
}

// adjust has the pacer adjust its rate to the time its clock says.
func adjust(p *pacer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adjust()
}

func TestPacerAIMD(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newPacer(10)
	p.now = func() time.Time { return now }
	p.throttled(context.Background(), 2*time.Second)
	if got := p.lim.Limit(); got != 5 {
		t.Fatalf("rate after a 429: %v, want 5", got)
	}
	if d := p.pausedFor(); d != 2*time.Second {
		t.Fatalf("paused for %s, want the 2s asked", d)
	}
	p.throttled(context.Background(), time.Second) // a shorter wait does not shorten the pause
	if d := p.pausedFor(); d != 2*time.Second || p.lim.Limit() != 2.5 {
		t.Fatalf("after a second 429: paused %s at %v/s, want 2s at 2.5/s", p.pausedFor(), p.lim.Limit())
	}
	// It grows back by a tenth of the ceiling per second.
	now = now.Add(5 * time.Second)
	adjust(p)
	if got := p.lim.Limit(); got != 7.5 {
		t.Fatalf("rate 5s later: %v, want 7.5", got)
	}
	now = now.Add(10 * time.Second)
	adjust(p)
	if got, b := p.lim.Limit(), p.lim.Burst(); got != 10 || b != 10 {
		t.Fatalf("rate recovered: %v burst %d, want 10 and 10", got, b)
	}
	// Never below the floor.
	for range 20 {
		p.throttled(context.Background(), 0)
	}
	if got := p.lim.Limit(); got != minRate {
		t.Fatalf("rate after many 429s: %v, want the floor %v", got, minRate)
	}
}

func TestPacerHeadersSlowBeforeTheQuotaRunsOut(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newPacer(9)
	p.now = func() time.Time { return now }
	h := http.Header{}
	// Plenty left: nothing changes.
	h.Set("X-HubSpot-RateLimit-Remaining", "95")
	h.Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
	p.observe(context.Background(), h, nil)
	if got := p.lim.Limit(); got != 9 {
		t.Fatalf("rate with 95 of 100 left: %v", got)
	}
	// 20 left for 10 s: 2 per second.
	h.Set("X-HubSpot-RateLimit-Remaining", "20")
	p.observe(context.Background(), h, nil)
	if got := p.lim.Limit(); got != rate.Limit(2) {
		t.Fatalf("rate with 20 left in 10s: %v, want 2", got)
	}
	// The cap ends with its window.
	now = now.Add(11 * time.Second)
	adjust(p)
	if got := p.lim.Limit(); got != 9 {
		t.Fatalf("rate after the window: %v, want 9", got)
	}
	// None left: paused until the reset.
	h = http.Header{}
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", "7")
	p.observe(context.Background(), h, nil)
	if d := p.pausedFor(); d != 7*time.Second {
		t.Fatalf("paused for %s with no request left, want 7s", d)
	}
}

// TestQuotaSpentByHeaders: a quota the headers say is spent, seen by one
// account, pauses every account of the quota until the reset.
func TestQuotaSpentByHeaders(t *testing.T) {
	t.Parallel()
	store, _ := checkpointtest.NewStore(t)
	p := newPacer(10)
	p.quota = &sharedQuota{store: store, name: "q-headers", rps: 10}
	h := http.Header{}
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", "5")
	p.observe(context.Background(), h, nil)
	d, err := store.TakeQuota(context.Background(), "q-headers", 10)
	if err != nil || d < 4*time.Second || d > 5*time.Second {
		t.Fatalf("another account of the quota: wait %s, %v; want the 5s to the reset", d, err)
	}
}

func TestPacerWaitRespectsDeadline(t *testing.T) {
	t.Parallel()
	p := newPacer(100)
	p.pauseLocal(time.Hour)
	err := p.wait(context.Background(), time.Now().Add(time.Minute))
	if _, ok := err.(errPausedPastDeadline); !ok {
		t.Fatalf("wait with a pause past the deadline: %v", err)
	}
}
