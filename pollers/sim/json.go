package sim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

// JSON writes one provider's JSON responses.
type JSON struct {
	// ContentType is the responses' Content-Type; default
	// "application/json".
	ContentType string
	// EncodingError is the body of the 500 sent when a value does not
	// encode, in the provider's error format.
	EncodingError string
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Write encodes v into a pooled buffer first, so that the response carries
// a Content-Length and an encoding error can still become a 500.
func (j JSON) Write(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		// Huge bodies (a whole thread, a long page) should not stay pinned
		// in the pool.
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		http.Error(w, j.EncodingError, http.StatusInternalServerError)
		return
	}
	ct := j.ContentType
	if ct == "" {
		ct = "application/json"
	}
	WriteBody(w, status, ct, buf.Bytes())
}
