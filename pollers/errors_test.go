package pollers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A redacted error keeps what callers classify by and gives no way back to
// the secret: not its text, not Unwrap, not the *HTTPError inside.
func TestRedactKeepsSentinelsAndHidesTheSecret(t *testing.T) {
	const secret = "sk-live-0123456789"
	he := &HTTPError{Method: "GET", URL: "https://api.example/x?key=" + secret, Status: http.StatusUnauthorized,
		Body: `{"error":"bad key ` + secret + `"}`, Header: http.Header{"X-Echo": {secret}}}
	err := redact(fmt.Errorf("account a: %w", he), secret)
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("text %q", err)
	}
	if !errors.Is(err, ErrAuth) {
		t.Fatal("errors.Is lost ErrAuth")
	}
	if errors.Unwrap(err) != nil {
		t.Fatal("Unwrap hands back the original")
	}
	var got *HTTPError
	if !errors.As(err, &got) || got.Status != http.StatusUnauthorized {
		t.Fatalf("errors.As: %v", got)
	}
	if s := fmt.Sprint(got.URL, got.Body, got.Header, got.Error()); strings.Contains(s, secret) {
		t.Fatalf("the *HTTPError errors.As gives holds the secret: %s", s)
	}
	if he.Header.Get("X-Echo") != secret {
		t.Fatal("redaction changed the original error")
	}
	// Nothing to hide: the error itself.
	plain := errors.New("plain")
	if redact(plain, secret) != plain || Redact(plain, strings.NewReplacer(secret, "x")) != plain {
		t.Fatal("an error without the secret was wrapped")
	}
}
