package sim

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// EncodeToken is an opaque page token or cursor holding v: unpadded
// base64url of its JSON, as many APIs make theirs.
func EncodeToken(v any) string {
	b, _ := json.Marshal(v) // plain data: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken reads an EncodeToken string into v, reporting whether it was
// one.
func DecodeToken(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

// Link is the absolute URL of the request's path with the query q, on
// base (scheme and host; the request's when empty). The path is the one
// the client sent, a prefix that http.StripPrefix removed included, so
// links work under providersim's mount points.
func Link(r *http.Request, base string, q url.Values) string {
	path := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		path = u.EscapedPath()
	}
	if base == "" {
		base = "http://" + r.Host
		if r.TLS != nil {
			base = "https://" + r.Host
		}
	}
	return strings.TrimRight(base, "/") + path + "?" + q.Encode()
}
