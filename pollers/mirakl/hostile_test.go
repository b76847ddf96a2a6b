package mirakl_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threadsync/threadsync/checkpoint"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// TestHostileResponses serves responses no API should send — bodies that
// trickle, servers that never answer, a page far larger than any real one,
// 5xx bursts, a 429 without Retry-After, a 429 asking for an hour — and
// checks that what may heal is retried in place within the poll, that what
// will not (or asks for longer than a request waits) fails the page
// without committing it, that an account told to wait sends nothing before
// the wait is over, and that everything is delivered once in the end.
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
		heals   bool  // retried in place: the poll succeeds
		paused  bool  // the account must wait past the test: no request is sent
		is      error // what a failed poll wraps
		timeout time.Duration
	}{
		{"trickling body", 1, trickle, true, false, nil, 300 * time.Millisecond},
		{"no answer", 1, silent, true, false, nil, 300 * time.Millisecond},
		{"oversized page", 1, huge, false, false, pollers.ErrMalformed, 30 * time.Second},
		{"5xx burst", 3, status(http.StatusServiceUnavailable, ""), true, false, nil, time.Second},
		{"5xx outlasting the attempts", 4, status(http.StatusBadGateway, ""), false, false, nil, time.Second},
		{"429 without Retry-After", 1, status(http.StatusTooManyRequests, ""), true, false, nil, time.Second},
		{"429 with an HTTP-date Retry-After an hour away", 1, status(http.StatusTooManyRequests, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), false, true, nil, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var bad, requests atomic.Int32
			bad.Store(int32(c.times))
			shop := pollerstest.NewShop(t, 9, 2, func(sim http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					if r.URL.Path == "/api/inbox/threads" && bad.Add(-1) >= 0 && c.serve(w, r) {
						return
					}
					sim.ServeHTTP(w, r)
				})
			})
			w := pollerstest.NewWorld(t)
			store, js, key := w.Store, w.JS, shop.Key
			a := shop.Account("hostile", map[string]string{"requests_per_second": "1000"})
			e := w.Engine(pollers.Config{
				HTTPTimeout: c.timeout,
				Retry:       pollers.RetryPolicy{Attempts: 4, MinWait: 10 * time.Millisecond, MaxWait: 100 * time.Millisecond},
			}, a)
			key0 := checkpoint.Account{Provider: a.Provider, ID: a.ID}
			if !c.heals {
				_, err := e.PollOnce(context.Background(), a.Provider, a.ID)
				if err == nil {
					t.Fatal("poll through the misbehaviour succeeded")
				}
				if c.is != nil && !errors.Is(err, c.is) {
					t.Fatalf("error %v, want %v", err, c.is)
				}
				if strings.Contains(err.Error(), key) {
					t.Fatal("error contains the key")
				}
				if cur, _ := store.Cursor(context.Background(), key0); cur.Synced || cur.Page != "" {
					t.Fatalf("failed poll committed: %+v", cur)
				}
			}
			if c.paused {
				sent := requests.Load()
				_, err := e.PollOnce(context.Background(), a.Provider, a.ID)
				if err == nil || !strings.Contains(err.Error(), "paused") {
					t.Fatalf("poll of a paused account: %v, want it refused without a request", err)
				}
				if n := requests.Load(); n != sent {
					t.Fatalf("a paused account sent %d requests before its Retry-After", n-sent)
				}
				return
			}
			st, err := e.PollOnce(context.Background(), a.Provider, a.ID)
			if err != nil || !st.Completed {
				t.Fatalf("poll after the misbehaviour: %+v %v", st, err)
			}
			if bad.Load() > 0 {
				t.Fatalf("%d misbehaviours left unserved", bad.Load())
			}
			if n := js.Count(t); n == 0 || n != uint64(len(js.ReadAll(t))) {
				t.Fatalf("stream holds %d events after recovery", n)
			}
			fmt.Printf("hostile: %s injected=%d healed_in_place=%v\n", c.name, c.times, c.heals)
		})
	}
}
