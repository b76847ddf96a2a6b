package pollers

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// RetryPolicy says how the engine retries one provider request in place.
// Provider reads are idempotent GETs, so a request that meets a 429, a 408,
// a 5xx, a timeout, a reset connection or a body cut short is sent again,
// after the wait the provider asked for (Retry-After, or the provider's own
// hint) or an exponential backoff with jitter. 401, 403 and other 4xx are
// answers, not accidents, and are never retried in place. Only a request
// that exhausts its attempts fails its page.
type RetryPolicy struct {
	// Attempts caps the attempts of one request, the first included
	// (default 8; 1 disables retries).
	Attempts int
	// MinWait and MaxWait bound the exponential backoff between attempts
	// (defaults 250ms and 30s).
	MinWait, MaxWait time.Duration
	// MaxInPlace is the longest wait a request sits out in place; a
	// provider asking for longer (a daily allowance spent) fails the
	// request, and the account stays paused for as long as it was told
	// (default 60s).
	MaxInPlace time.Duration
	// PageDeadline bounds the time one page (its list request and the
	// message fetches it needs) may spend retrying: no attempt starts,
	// and no wait is begun, past it (default 3m).
	PageDeadline time.Duration
}

func (p *RetryPolicy) setDefaults() {
	if p.Attempts <= 0 {
		p.Attempts = 8
	}
	if p.MinWait <= 0 {
		p.MinWait = 250 * time.Millisecond
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 30 * time.Second
	}
	if p.MaxInPlace <= 0 {
		p.MaxInPlace = 60 * time.Second
	}
	if p.PageDeadline <= 0 {
		p.PageDeadline = 3 * time.Minute
	}
}

type deadlineKey struct{}

// withPageDeadline gives the requests made under ctx the page's retry
// deadline.
func withPageDeadline(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, deadlineKey{}, time.Now().Add(d))
}

func pageDeadline(ctx context.Context) time.Time {
	t, _ := ctx.Value(deadlineKey{}).(time.Time)
	return t
}

// accountTransport sends an account's requests: paced by the account's
// pacer, each attempt bounded by the engine's HTTP timeout, retried in
// place as the policy says, and counted.
type accountTransport struct {
	next    http.RoundTripper
	pacer   *pacer
	policy  RetryPolicy
	timeout time.Duration
	count   *atomic.Int64 // every attempt
	onRetry func(reason string)
	// tel and provider report each attempt: a client span, the answer's
	// class, the pauses asked for.
	tel      *telemetry
	provider string
	// hints and dailyReset are the provider's, when it has them; set once
	// the provider exists, before its first request.
	hints      RetryHinter
	dailyReset func(time.Time) time.Time
}

// bufferedBody is a response body read in full by the transport, so that a
// body cut short is retried like any other accident. GetJSON decodes its
// bytes without copying them again.
type bufferedBody struct {
	*bytes.Reader
	data []byte
	buf  *bytes.Buffer // data's, from bodies
}

func (bufferedBody) Close() error { return nil }

// bodies are the buffers responses are read into. A page is read, decoded
// and dropped many times a second; reading each into a buffer grown from
// nothing made as much garbage as the decoding itself.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse: a rare huge page
// must not pin its memory.
const maxPooledBody = 1 << 20

// release gives body's buffer back for another response, once nothing
// reads data any more; safe on any body.
func release(body io.ReadCloser) {
	bb, ok := body.(bufferedBody)
	if !ok || bb.buf == nil || bb.buf.Cap() > maxPooledBody {
		return
	}
	bb.buf.Reset()
	bodies.Put(bb.buf)
}

// RoundTrip sends req, retrying it in place while the failure may heal.
func (t *accountTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	idempotent := (req.Method == http.MethodGet || req.Method == http.MethodHead) && req.Body == nil
	deadline := pageDeadline(ctx)
	b := &backoff.ExponentialBackOff{
		InitialInterval:     t.policy.MinWait,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         t.policy.MaxWait,
	}
	b.Reset()
	var lastResp *http.Response
	var lastErr error
	for attempt := 1; ; attempt++ {
		// A pause longer than a request waits in place (one the headers
		// announced, or a quota's) fails the request at once, like a
		// Retry-After that long: the account must not hold a poll slot
		// while it waits.
		waitUntil := time.Now().Add(t.policy.MaxInPlace)
		if !deadline.IsZero() && deadline.Before(waitUntil) {
			waitUntil = deadline
		}
		if err := t.pacer.wait(ctx, waitUntil); err != nil {
			var paused errPausedPastDeadline
			if errors.As(err, &paused) && (lastResp != nil || lastErr != nil) {
				return lastResp, lastErr // the last answer says more
			}
			return nil, err
		}
		t.count.Add(1)
		resp, err := t.attempt(req, attempt-1)
		reason := retryable(ctx, resp, err)
		if resp != nil {
			t.pacer.observe(ctx, resp.Header, t.dailyReset)
		}
		if reason == "" || !idempotent {
			if probe := probeFrom(ctx); probe != nil && err == nil && resp.StatusCode/100 == 2 {
				if bb, ok := resp.Body.(bufferedBody); ok {
					if err := probe.observe(req, bb.data); err != nil {
						release(resp.Body)
						return nil, err
					}
				}
			}
			return resp, err
		}
		if lastResp != nil {
			release(lastResp.Body) // superseded by resp
		}
		lastResp, lastErr = resp, err
		wait := b.NextBackOff()
		if resp != nil {
			if stated := t.stated(req, resp); stated > 0 {
				wait = stated
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				// The account pauses, whoever sends its next request.
				t.pacer.throttled(ctx, wait)
				t.tel.pausedBy(t.provider, wait)
			}
		}
		if attempt >= t.policy.Attempts || wait > t.policy.MaxInPlace ||
			(!deadline.IsZero() && time.Now().Add(wait).After(deadline)) {
			if err != nil {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
			}
			return resp, nil
		}
		if t.onRetry != nil {
			t.onRetry(reason)
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			// A 429's wait is the pacer's pause, which wait sits out.
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
		}
	}
}

// attempt sends req once, bounded by the HTTP timeout, and reads the whole
// body so that a body cut short is seen here. resends counts the attempts
// before it.
func (t *accountTransport) attempt(req *http.Request, resends int) (resp *http.Response, err error) {
	ctx, span := t.tel.startRequest(req, resends)
	defer func() {
		t.tel.endRequest(span, t.provider, resp, err)
	}()
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	resp, err = t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes is larger than %d", ErrMalformed, resp.ContentLength, MaxBody)
	}
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxBody+1)); err != nil {
		release(bufferedBody{buf: buf})
		return nil, cutBody{err}
	}
	data := buf.Bytes()
	if len(data) > MaxBody {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrMalformed, MaxBody)
	}
	resp.Body = bufferedBody{Reader: bytes.NewReader(data), data: data, buf: buf}
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// stated is the wait the provider asked for after resp: its own hint when it
// has one, else Retry-After.
func (t *accountTransport) stated(req *http.Request, resp *http.Response) time.Duration {
	he := newHTTPError(req, resp)
	if t.hints != nil {
		if d := t.hints.RetryAfter(he); d > 0 {
			return d
		}
	}
	return he.RetryAfter
}

// retryable says why a failed attempt may heal when sent again ("" when it
// will not, or did not fail).
func retryable(ctx context.Context, resp *http.Response, err error) string {
	if ctx.Err() != nil {
		return "" // the caller gave up
	}
	if err != nil {
		var cert *x509.UnknownAuthorityError
		var host x509.HostnameError
		var invalid x509.CertificateInvalidError
		var dns *net.DNSError
		switch {
		case errors.Is(err, ErrMalformed), errors.As(err, &cert), errors.As(err, &host), errors.As(err, &invalid):
			return ""
		case errors.As(err, &dns) && dns.IsNotFound:
			return ""
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			return "timeout"
		case errors.As(err, new(cutBody)):
			return "body cut short"
		}
		return "connection"
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		return "429"
	case s == http.StatusRequestTimeout:
		return "408"
	case s >= 500 && s != http.StatusNotImplemented && s != http.StatusHTTPVersionNotSupported:
		return "5xx"
	}
	return ""
}

// cutBody is a response whose body ended before it was read in full.
type cutBody struct{ err error }

func (e cutBody) Error() string { return "read body: " + e.err.Error() }
func (e cutBody) Unwrap() error { return e.err }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
