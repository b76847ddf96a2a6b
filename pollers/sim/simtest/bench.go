package simtest

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Benchmark measures the target's simulator on an inbox of 10,000
// threads: filling it with 4 messages a thread, walking each list over it
// 100 threads a page, and writing to its threads (mostly in the middle of
// the list, where keeping the order costs most).
func Benchmark[S sim.Simulator, C any](b *testing.B, tg Target[S, C]) {
	const threads = 10000
	filled := func(perThread int) S {
		s := tg.New(tg.config(false, time.Now))
		s.Register(tg.A.Key, tg.A.Token)
		s.Fill(tg.A.Key, threads, perThread)
		return s
	}
	b.Run("Fill", func(b *testing.B) {
		for b.Loop() {
			filled(4)
		}
	})
	for _, l := range tg.Lists {
		b.Run("Walk "+l.Name, func(b *testing.B) {
			srv := httptest.NewServer(filled(4))
			defer srv.Close()
			c := Client{URL: srv.URL, Auth: tg.Auth}
			for b.Loop() {
				if ids, err := Walk(c, tg.A.Token, l, 100); err != nil || len(ids) != threads {
					b.Fatalf("walk: %d threads, %v", len(ids), err)
				}
			}
		})
	}
	b.Run("Write", func(b *testing.B) {
		s := filled(1)
		ths := s.Truth(tg.A.Key)
		i := 0
		for b.Loop() {
			s.Write(tg.A.Key, ths[i%len(ths)].ID, events.Inbound, "x")
			i += 7919
		}
	})
}
