package sim

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// JSON writes one provider's JSON responses.
type JSON struct {
	ContentType   string // default "application/json"
	EncodingError string // the body of the 500 of a value that does not encode
}

// Write encodes v first, for a Content-Length and a 500 if it does not encode.
func (j JSON) Write(w http.ResponseWriter, status int, v any) {
	Pooled(func(b []byte) []byte {
		buf := bytes.NewBuffer(b)
		if err := json.NewEncoder(buf).Encode(v); err != nil {
			http.Error(w, j.EncodingError, http.StatusInternalServerError)
		} else {
			WriteBody(w, status, cmp.Or(j.ContentType, "application/json"), buf.Bytes())
		}
		return buf.Bytes()
	})
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// Pooled runs f on an empty buffer of a pool, which takes back what f returns: bodies of a
// page's size would otherwise be allocated anew for each response.
func Pooled(f func(b []byte) []byte) {
	p := bufPool.Get().(*[]byte)
	*p = f((*p)[:0])
	// Huge bodies should not stay pinned in the pool.
	if cap(*p) <= 1<<20 {
		bufPool.Put(p)
	}
}

// WriteBody writes an encoded body with its Content-Type and Length.
func WriteBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// EncodeToken is an opaque cursor of v: unpadded base64url of its JSON.
func EncodeToken(v any) string {
	b, _ := json.Marshal(v) // plain data: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken reads an EncodeToken string into v, if it is one.
func DecodeToken(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}

// Link is the URL of the request's path, as the client sent it, with query q on base.
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

// Bearer is the token of "Authorization: Bearer <token>", if that scheme.
func Bearer(r *http.Request) (token string, ok bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(tok), strings.EqualFold(scheme, "Bearer")
}

// Mix is splitmix64's finaliser, a bijection: ids of a counter look random but are unique.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// UUID is the n-th UUID-shaped (version 4) id of a sequence.
func UUID(n uint64) string {
	hi, lo := Mix(n), Mix(n^0x6a09e667f3bcc909)
	var b uuid.UUID
	for i := range 8 {
		b[i] = byte(hi >> (56 - 8*i))
		b[8+i] = byte(lo >> (56 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return b.String()
}
