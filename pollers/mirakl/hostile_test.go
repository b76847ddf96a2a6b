package mirakl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/checkpoint/checkpointtest"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
)

// TestHostileResponses serves, once each, responses no API should send —
// bodies that trickle, servers that never answer, a page far larger than
// any real one, 5xx bursts, a 429 without Retry-After — and checks each
// fails the page without committing it, and that the next poll recovers
// and delivers everything once.
func TestHostileResponses(t *testing.T) {
	t.Parallel()
	type misbehaviour func(w http.ResponseWriter, r *http.Request) bool // true: handled
	trickle := func(w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 40; i++ { // 40 bytes over 2 s: past the 300 ms timeout
			if _, err := io.WriteString(w, " "); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond) // the misbehaviour itself: a slow body
		}
		return true
	}
	silent := func(_ http.ResponseWriter, r *http.Request) bool {
		<-r.Context().Done() // never answers; the client gives up
		return true
	}
	huge := func(w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":[],"junk":"`)
		chunk := strings.Repeat("x", 1<<20)
		for i := 0; i <= pollers.MaxBody>>20; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return true
			}
		}
		io.WriteString(w, `"}`)
		return true
	}
	status := func(code int, header string) misbehaviour {
		return func(w http.ResponseWriter, _ *http.Request) bool {
			if header != "" {
				w.Header().Set("Retry-After", header)
			}
			w.WriteHeader(code)
			io.WriteString(w, `{"status":`+fmt.Sprint(code)+`,"message":"nope"}`)
			return true
		}
	}
	cases := []struct {
		name    string
		times   int
		serve   misbehaviour
		is      error
		timeout time.Duration
	}{
		{"trickling body", 1, trickle, context.DeadlineExceeded, 300 * time.Millisecond},
		{"no answer", 1, silent, context.DeadlineExceeded, 300 * time.Millisecond},
		{"oversized page", 1, huge, pollers.ErrMalformed, 30 * time.Second},
		{"5xx burst", 3, status(http.StatusServiceUnavailable, ""), nil, time.Second},
		{"429 without Retry-After", 1, status(http.StatusTooManyRequests, ""), nil, time.Second},
		{"429 with an HTTP-date Retry-After", 1, status(http.StatusTooManyRequests, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), nil, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sim := miraklsim.New(miraklsim.Config{})
			key := randomKey()
			sim.AddShop(shopID, key)
			sim.Seed(shopID, 9, 2, time.Time{})
			var bad atomic.Int32
			bad.Store(int32(c.times))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/inbox/threads" && bad.Add(-1) >= 0 && c.serve(w, r) {
					return
				}
				sim.ServeHTTP(w, r)
			}))
			defer srv.Close()
			store, _ := checkpointtest.NewStore(t)
			js := eventstest.Start(t)
			a := pollers.Account{Provider: mirakl.Name, ID: "hostile", BaseURL: srv.URL, Token: key,
				Options: map[string]string{"shop_id": shopID, "requests_per_second": "1000"}}
			e, err := pollers.New(pollers.Config{
				Store: store, Publisher: js.Publisher, HTTPTimeout: c.timeout,
				Providers: map[string]pollers.Factory{mirakl.Name: mirakl.New},
			}, []pollers.Account{a})
			if err != nil {
				t.Fatal(err)
			}
			for i := range c.times {
				_, err := e.PollOnce(context.Background(), a.Provider, a.ID)
				if err == nil {
					t.Fatalf("poll %d through the misbehaviour succeeded", i+1)
				}
				if c.is != nil && !errors.Is(err, c.is) {
					t.Fatalf("error %v, want %v", err, c.is)
				}
				if strings.Contains(err.Error(), key) {
					t.Fatal("error contains the key")
				}
				if cur, _ := store.Cursor(context.Background(), checkpoint.Account{Provider: a.Provider, ID: a.ID}); cur.Synced || cur.Page != "" {
					t.Fatalf("failed poll committed: %+v", cur)
				}
			}
			if st, err := e.PollOnce(context.Background(), a.Provider, a.ID); err != nil || !st.Completed {
				t.Fatalf("recovery poll: %+v %v", st, err)
			}
			if n := js.Count(t); n == 0 || n != uint64(len(js.ReadAll(t))) {
				t.Fatalf("stream holds %d events after recovery", n)
			}
			fmt.Printf("hostile: %s injected=%d recovered=true\n", c.name, c.times)
		})
	}
}
