package mirakl

import (
	"errors"
	"testing"

	"github.com/threadsync/threadsync/pollers"
)

// FuzzThreadPage feeds arbitrary bytes through the M11 decoding (the
// decoder pollers.GetJSON runs) and mapping: it must never panic, and
// whatever it refuses it refuses as malformed.
func FuzzThreadPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"t","date_created":"2024-03-01T08:00:00Z","date_updated":"2024-03-01T09:30:00Z","metadata":{"total_count":1,"shop_reply_needed_since":"2024-03-01T09:30:00Z"},"messages":[{"id":"m","date_created":"2024-03-01T09:30:00Z","from":{"type":"CUSTOMER_USER"}}]}],"next_page_token":"x"}`))
	f.Add([]byte(`{"data":[{"id":"","date_created":"yesterday"}]}`))
	f.Add([]byte(`{"data":[{"id":"t","date_created":"2024-03-01 08:00:00","date_updated":"2024-03-01T09:30:00+01:00","messages":[{"id":"m","date_created":"0"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var page threadList
		if err := pollers.DecodeJSON(body, &page); err != nil {
			if !errors.Is(err, pollers.ErrMalformed) {
				t.Fatalf("decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for i := range page.Data {
			it, err := page.Data[i].item()
			if err != nil {
				if !errors.Is(err, pollers.ErrMalformed) {
					t.Fatalf("mapping error %v does not wrap ErrMalformed", err)
				}
				continue
			}
			if it.Thread.ID == "" || it.UpdatedAt.Location().String() != "UTC" {
				t.Fatalf("accepted thread %+v", it)
			}
		}
	})
}
