package simtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Response is a simulator's answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Auth puts a credential on a request the way an API wants it. The
// token is "" for a request without one. It leaves alone the headers a
// test has set already (see Client.Request), so that a test can send a
// wrong credential or none.
type Auth func(r *http.Request, token string)

// Bearer sends the token as "Authorization: Bearer <token>".
func Bearer(r *http.Request, token string) { Header("Authorization", "Bearer ")(r, token) }

// Header returns the Auth that sends prefix and the token as the header
// name: Header("Authorization", "") for a raw key.
func Header(name, prefix string) Auth {
	return func(r *http.Request, token string) {
		if token != "" && unset(r, name) {
			r.Header.Set(name, prefix+token)
		}
	}
}

// Cookie returns the Auth that sends the token as the cookie name, after
// any cookie the test sets.
func Cookie(name string) Auth {
	return func(r *http.Request, token string) {
		if token != "" {
			r.AddCookie(&http.Cookie{Name: name, Value: token})
		}
	}
}

// unset reports whether the request has no header name, not even one a
// test removed.
func unset(r *http.Request, name string) bool {
	_, set := r.Header[textproto.CanonicalMIMEHeaderKey(name)]
	return !set
}

// Client sends requests to a simulator served at URL, with credentials as
// Auth puts them. It follows no redirect, so a test sees the simulator's
// own answer. It is safe for concurrent use.
type Client struct {
	URL  string
	Auth Auth
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Request sends method path (below URL, or an absolute URL) with body and
// the credential token ("" for none), and reads the answer. Each header
// line "Name: value" sets a header before Auth runs, and "Name:" removes
// it, Auth's included.
func (c Client) Request(method, token, path string, body io.Reader, header ...string) (Response, error) {
	if !strings.HasPrefix(path, "http://") {
		path = c.URL + path
	}
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		return Response{}, err
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ":")
		if value = strings.TrimSpace(value); value == "" {
			req.Header[textproto.CanonicalMIMEHeaderKey(name)] = nil
		} else {
			req.Header.Set(name, value)
		}
	}
	if c.Auth != nil {
		c.Auth(req, token)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// JSON GETs path with the credential token and decodes the answer, which
// must be a 200, into v.
func (c Client) JSON(token, path string, v any) error {
	r, err := c.Request(http.MethodGet, token, path, nil)
	if err != nil {
		return err
	}
	if r.Status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d: %.300s", path, r.Status, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("GET %s: %v: %.300s", path, err, r.Body)
	}
	return nil
}

// Fixture is a simulator served for a test on a local test server, on a
// Clock that moves only when the test says.
type Fixture[S sim.Simulator] struct {
	T     testing.TB
	Sim   S
	Clock *sim.Clock
	Client
}

// Serve makes the target's simulator of c, on a Clock standing at now
// unless c has a clock, registers the target's accounts A and B on it
// and serves it until the test ends.
func Serve[S sim.Simulator, C any](t testing.TB, tg Target[S, C], now time.Time, c C) *Fixture[S] {
	t.Helper()
	clock := sim.NewClock(now)
	if at := tg.Now(&c); *at == nil {
		*at = clock.Now
	}
	s := tg.New(c)
	for _, a := range []Account{tg.A, tg.B} {
		s.Register(a.Key, a.Token)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &Fixture[S]{T: t, Sim: s, Clock: clock, Client: Client{URL: srv.URL, Auth: tg.Auth}}
}

// Do is Client.Request that fails the test when there is no answer.
func (f *Fixture[S]) Do(method, token, path string, body io.Reader, header ...string) Response {
	f.T.Helper()
	r, err := f.Request(method, token, path, body, header...)
	if err != nil {
		f.T.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Get is Do of a GET without a body.
func (f *Fixture[S]) Get(token, path string, header ...string) Response {
	f.T.Helper()
	return f.Do(http.MethodGet, token, path, nil, header...)
}

// GetJSON is Client.JSON that fails the test on an error: path's answer
// to a GET with the credential token must be a 200 that decodes into v.
func (f *Fixture[S]) GetJSON(token, path string, v any) {
	f.T.Helper()
	if err := f.JSON(token, path, v); err != nil {
		f.T.Fatal(err)
	}
}

// Post is Do of a POST of body, JSON, with its Content-Type before the
// header lines.
func (f *Fixture[S]) Post(token, path, body string, header ...string) Response {
	f.T.Helper()
	return f.Do(http.MethodPost, token, path, strings.NewReader(body), append([]string{"Content-Type: application/json"}, header...)...)
}

// WantStatus fails the test unless r has the status.
func WantStatus(t testing.TB, r Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %.500s", r.Status, status, r.Body)
	}
}

// Get serves h on a local test server for one GET of path with the
// header lines ("Name: value") and returns the answer's body. It panics
// when the request fails: it is for examples, which have no test to fail.
func Get(h http.Handler, path string, header ...string) []byte {
	srv := httptest.NewServer(h)
	defer srv.Close()
	r, err := Client{URL: srv.URL}.Request(http.MethodGet, "", path, nil, header...)
	if err != nil {
		panic(err)
	}
	return r.Body
}

// WantPanics fails the test for each of the named calls that does not
// panic: the simulators panic on a mistake in the test.
func WantPanics(t testing.TB, calls map[string]func()) {
	t.Helper()
	for name, call := range calls {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			call()
		}()
	}
}

// IDs are the ids of items, in order.
func IDs[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, x := range items {
		out[i] = id(x)
	}
	return out
}

// Converse writes n messages to the account's thread through the
// simulator's Inbox, message i by the account (outbound) when out(i) and
// by the other side otherwise, and returns their ids, oldest first.
func Converse(s sim.Inbox, account, thread string, n int, out func(i int) bool) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.Write(account, thread, sim.Direction(out(i)), "message "+strconv.Itoa(i))
	}
	return ids
}
