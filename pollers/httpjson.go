package pollers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// decodeOptions read provider bodies leniently: invalid UTF-8 or a repeated
// field in a message must not stall an account for ever. The decoder is
// json/v2's, which decodes pages about twice as fast as encoding/json.
var decodeOptions = json.JoinOptions(
	jsontext.AllowInvalidUTF8(true),
	jsontext.AllowDuplicateNames(true),
)

// MaxBody caps how much of a response body is read; a page far larger than
// any real one is an error, not an out-of-memory crash.
const MaxBody = 32 << 20

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

// RedactURL returns u without user info, for logs and errors.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	return c.String()
}

// GetJSON sends req with client and decodes a 2xx JSON body into out. Any
// other status becomes an *HTTPError; a body that does not decode wraps
// ErrMalformed. Errors name the method and the redacted URL.
func GetJSON(client *http.Client, req *http.Request, out any) error {
	where := req.Method + " " + RedactURL(req.URL)
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, possibly with user info
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newHTTPError(req, resp)
	}
	var b []byte
	if bb, ok := resp.Body.(bufferedBody); ok {
		b = bb.data // the engine's transport has read it already
	} else {
		if resp.ContentLength > MaxBody {
			return fmt.Errorf("%s: %w: body of %d bytes is larger than %d", where, ErrMalformed, resp.ContentLength, MaxBody)
		}
		if b, err = io.ReadAll(io.LimitReader(resp.Body, MaxBody+1)); err != nil {
			return fmt.Errorf("%s: read body: %w", where, err)
		}
		if len(b) > MaxBody {
			return fmt.Errorf("%s: %w: body larger than %d bytes", where, ErrMalformed, MaxBody)
		}
	}
	if err := json.Unmarshal(b, out, decodeOptions); err != nil {
		return fmt.Errorf("%s: %w: %w", where, ErrMalformed, err)
	}
	return nil
}

// newHTTPError describes a response with a status the client did not
// expect, keeping the start of its body for providers to classify.
func newHTTPError(req *http.Request, resp *http.Response) *HTTPError {
	var snippet []byte
	if bb, ok := resp.Body.(bufferedBody); ok {
		snippet = bb.data[:min(len(bb.data), 1024)]
	} else {
		snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
	}
	h := resp.Header.Clone()
	h.Del("Set-Cookie")
	return &HTTPError{
		Method: req.Method, URL: RedactURL(req.URL), Status: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       strings.TrimSpace(string(snippet)),
		Header:     h,
	}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// NewRequest builds a GET request and names the failure when the URL is bad.
func NewRequest(ctx context.Context, rawURL string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	return req, nil
}
