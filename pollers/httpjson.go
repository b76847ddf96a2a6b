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
		// Decoding copies what it keeps: the buffer may serve another
		// response once it is done.
		defer release(resp.Body)
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
