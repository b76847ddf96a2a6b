package simtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// Decode fails the test unless r has one of the statuses (200 when none
// is given) and a JSON body that decodes into a T, and returns it.
func Decode[T any](t testing.TB, r Response, status ...int) T {
	t.Helper()
	if len(status) == 0 {
		status = []int{http.StatusOK}
	}
	if !slices.Contains(status, r.Status) {
		t.Fatalf("status %d, want %v: %.500s", r.Status, status, r.Body)
	}
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %.500s: %v", r.Body, err)
	}
	return v
}

// ErrorBody decodes body, a provider's JSON error body, into a T, and
// returns an error, naming the body and want (what it should be), unless
// it decodes and ok accepts it.
func ErrorBody[T any](body []byte, want string, ok func(e T) bool) (T, error) {
	var e T
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("error body %.300s, want %s: %v", body, want, err)
	}
	if !ok(e) {
		return e, fmt.Errorf("error body %.300s, want %s", body, want)
	}
	return e, nil
}

// Assert makes decode, a provider's reader of a body that says what is
// wrong with it (an ErrorBody, say), an assertion: the function it returns
// fails the test with decode's error.
func Assert[T any](decode func(body []byte) (T, error)) func(t testing.TB, r Response) T {
	return func(t testing.TB, r Response) T {
		t.Helper()
		v, err := decode(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
