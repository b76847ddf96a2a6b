package hubspot

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers"
)

// dailyResetMargin is added to the wait for the daily reset, so a clock a
// little ahead of HubSpot's does not retry just before midnight.
const dailyResetMargin = 30 * time.Second

var policyRE = regexp.MustCompile(`"policyName"\s*:\s*"([^"]*)"`)

// RetryAfter is how long the account waits after one of HubSpot's two
// 429s, told apart by the policyName of the JSON body:
//   - DAILY: the account's daily allowance is spent; it resets at midnight
//     in the account's time zone, so the account pauses until then (plus a
//     small margin) unless HubSpot sent a Retry-After of its own.
//   - anything else (TEN_SECONDLY_ROLLING, a policy HubSpot adds later, a
//     429 without a HubSpot body): Retry-After when sent, else BurstRetry.
//
// It is the engine's pollers.RetryHinter; other statuses say nothing more.
func (c *Client) RetryAfter(he *pollers.HTTPError) time.Duration {
	switch {
	case he.Status != http.StatusTooManyRequests:
		return 0
	case he.RetryAfter > 0:
		return he.RetryAfter
	case !dailyPolicy(he.Body):
		return BurstRetry
	}
	return c.DailyReset(c.now()).Sub(c.now())
}

// DailyReset is when the account's daily allowance comes back, with a
// margin for a clock a little ahead of HubSpot's (pollers.DailyResetter).
func (c *Client) DailyReset(now time.Time) time.Time {
	return nextMidnight(now, c.loc).Add(dailyResetMargin)
}

// rateLimited names HubSpot's daily limit in a 429 that reached the
// client; the engine has the wait from RetryAfter.
func (c *Client) rateLimited(err error) error {
	var he *pollers.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusTooManyRequests || !dailyPolicy(he.Body) {
		return err
	}
	reset := nextMidnight(c.now(), c.loc)
	return fmt.Errorf("daily API limit of the HubSpot account reached; it resets at %s: %w", reset.Format(time.RFC3339), err)
}

// dailyPolicy reports whether a 429 body is HubSpot's daily limit. The body
// may be cut short (pollers.HTTPError keeps its start only), so a message
// mentioning the daily limit counts when policyName is not there.
func dailyPolicy(body string) bool {
	if m := policyRE.FindStringSubmatch(body); m != nil {
		return strings.Contains(strings.ToUpper(m[1]), "DAILY")
	}
	return strings.Contains(strings.ToLower(body), "daily limit")
}

// nextMidnight is the next midnight after now in loc.
func nextMidnight(now time.Time, loc *time.Location) time.Time {
	l := now.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}
