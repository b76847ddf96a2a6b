package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// read serves a list whose page after token tok is next[tok].
func read(t *testing.T, next map[string]string) ([]string, error) {
	t.Helper()
	var asked []string
	err := api.Pages(func(tok string) (string, string, error) {
		asked = append(asked, tok)
		return next[tok], "GET http://api.test/list?cursor=" + tok, nil
	})
	return asked, err
}

func TestPagesReadsToTheEnd(t *testing.T) {
	t.Parallel()
	asked, err := read(t, map[string]string{"": "a", "a": "b", "b": ""})
	if err != nil || strings.Join(asked, ",") != ",a,b" {
		t.Fatalf("asked %q, %v", asked, err)
	}
}

// The guards of the engine's walk: a token that comes back, and a list
// that never ends.
func TestPagesGuards(t *testing.T) {
	t.Parallel()
	for name, next := range map[string]map[string]string{
		"same token":  {"": "A", "A": "A"},
		"longer loop": {"": "A", "A": "B", "B": "A"},
	} {
		_, err := read(t, next)
		if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), `page token "A" repeats`) || !strings.Contains(err.Error(), "GET http://api.test/list?cursor=") {
			t.Errorf("%s: %v", name, err)
		}
	}
	endless := map[string]string{"": "0"}
	for i := range api.MaxPages + 10 {
		endless[strconv.Itoa(i)] = strconv.Itoa(i + 1)
	}
	asked, err := read(t, endless)
	if !errors.Is(err, pollers.ErrMalformed) || !strings.Contains(err.Error(), "more than 10000 pages") || len(asked) != api.MaxPages {
		t.Fatalf("endless: asked %d pages, %v", len(asked), err)
	}
	// A page's own error ends the read as it is.
	boom := errors.New("boom")
	if err := api.Pages(func(string) (string, string, error) { return "x", "", boom }); err != boom {
		t.Fatalf("page error: %v", err)
	}
}

func TestTokenRefused(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("GET x: %w", &pollers.HTTPError{Status: http.StatusBadRequest})
	if err := api.TokenRefused(refused, "tok", http.StatusBadRequest, http.StatusGone); !errors.Is(err, pollers.ErrTokenExpired) || !errors.Is(err, refused) {
		t.Errorf("refused token: %v", err)
	}
	if err := api.TokenRefused(refused, "", http.StatusBadRequest); errors.Is(err, pollers.ErrTokenExpired) {
		t.Errorf("first page: %v", err)
	}
	if err := api.TokenRefused(refused, "tok", http.StatusGone); errors.Is(err, pollers.ErrTokenExpired) {
		t.Errorf("another status: %v", err)
	}
	if err := api.TokenRefused(nil, "tok", http.StatusBadRequest); err != nil {
		t.Errorf("nil: %v", err)
	}
}
