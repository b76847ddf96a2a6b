package pollers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
)

// The errors the engine and the provider clients classify failures by.

// ErrAuth marks a response saying the credentials are missing, wrong or
// revoked (401, 403). The account backs off for long, never crashes.
var ErrAuth = errors.New("credentials rejected")

// ErrRateLimited marks a refusal for going too fast (429) that outlasted
// the request's retries, or a request not sent because the provider paused
// the account for longer than a request waits in place (a daily allowance
// spent). The account resumes once the pause is over.
var ErrRateLimited = errors.New("rate limited by the provider")

// ErrMalformed marks a response whose body is not what the API documents.
var ErrMalformed = errors.New("malformed response")

// ErrTokenExpired marks a page token the provider no longer accepts; the
// engine restarts the walk from its beginning.
var ErrTokenExpired = errors.New("page token no longer accepted")

// ErrThreadGone marks a listed thread whose messages are not there (the
// thread was deleted between the list and the fetch, or the API lists a
// thread it will not show). Failing the page would stall the account for
// as long as the list keeps the thread; so the engine announces the thread
// with no messages and does not record its version, and the next poll asks
// again while the thread is listed.
var ErrThreadGone = errors.New("thread listed but its messages are gone")

// HTTPError is a response with a status the provider client did not expect.
type HTTPError struct {
	Method     string
	URL        string // redacted: no user info
	Status     int
	RetryAfter time.Duration // from Retry-After; zero when absent
	Body       string        // the start of the body (1 KiB), for providers to classify
	Header     http.Header   // response headers, without cookies
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		// Enough of the body to tell what went wrong, not a page of it.
		b := e.Body
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		s += ": " + b
	}
	return s
}

// Is makes 401, 403 and 419 (a session expired, in Laravel-built APIs)
// match ErrAuth, and 429 ErrRateLimited.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == 419
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// ErrStandby is returned by a poll when another worker holds the account.
var ErrStandby = errors.New("another worker holds the account")

// ErrStore marks a failure to reach the checkpoint store (Redis), as
// opposed to a problem of one account.
var ErrStore = errors.New("checkpoint store unavailable")

func storeErr(err error) error {
	if errors.Is(err, checkpoint.ErrLeaseLost) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStore, err)
}

// redactedError is an error whose text had secrets replaced. It answers
// errors.Is for everything the original wraps, and errors.As for an
// *HTTPError with a redacted copy, but has no Unwrap: that would hand back
// the original, and its text, to anyone who asks.
type redactedError struct {
	msg string
	err error
	r   *strings.Replacer
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func (e *redactedError) As(target any) bool {
	p, ok := target.(**HTTPError)
	if !ok {
		return false
	}
	var he *HTTPError
	if !errors.As(e.err, &he) {
		return false
	}
	c := *he
	c.URL, c.Body = e.r.Replace(c.URL), e.r.Replace(c.Body)
	c.Header = c.Header.Clone()
	for k, vs := range c.Header {
		for i := range vs {
			vs[i] = e.r.Replace(vs[i])
		}
		c.Header[k] = vs
	}
	*p = &c
	return true
}

// Redact returns err with its text passed through r, which replaces each
// secret with what may be shown instead; err itself when nothing changed.
// It is how every error that may quote a secret leaves the program.
func Redact(err error, r *strings.Replacer) error {
	if err == nil || r == nil {
		return err
	}
	msg := err.Error()
	s := r.Replace(msg)
	if s == msg {
		return err
	}
	return &redactedError{msg: s, err: err, r: r}
}

// redact hides one secret, shown as [redacted]: a provider that echoes the
// credentials back in an error body must not put them in a log.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return Redact(err, strings.NewReplacer(secret, "[redacted]"))
}
