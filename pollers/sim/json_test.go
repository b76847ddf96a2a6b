package sim

import (
	"net/http/httptest"
	"testing"
)

func TestJSONWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	JSON{}.Write(rec, 201, map[string]int{"id": 7})
	if rec.Code != 201 || rec.Body.String() != "{\"id\":7}\n" || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Header().Get("Content-Length") != "9" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
	}

	rec = httptest.NewRecorder()
	JSON{ContentType: "application/json;charset=utf-8", EncodingError: `{"message":"encoding response"}`}.Write(rec, 200, func() {})
	if rec.Code != 500 || rec.Body.String() != "{\"message\":\"encoding response\"}\n" {
		t.Fatalf("unencodable value: %d %q", rec.Code, rec.Body)
	}
}
