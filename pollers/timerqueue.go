package pollers

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// timerQueue fires the accounts' reply deadlines apart from their poll
// loops, so that a poll that is slow (a provider asking it to wait, again
// and again) delays no deadline past its grace period. It holds one entry
// per account with timers: the time they next need firing. Waiting costs
// one timer for the whole engine, and work grows with the deadlines due,
// not with the accounts.
type timerQueue struct {
	mu    sync.Mutex
	items runnerHeap
	poke  chan struct{}
}

func newTimerQueue() *timerQueue {
	return &timerQueue{poke: make(chan struct{}, 1), items: runnerHeap{slot: func(r *runner) *slot { return &r.queued }}}
}

// set makes r's timers fire at t; zero removes r.
func (q *timerQueue) set(r *runner, t time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.queued.idx >= 0 {
		if t.IsZero() {
			heap.Remove(&q.items, r.queued.idx)
		} else {
			r.queued.at = t
			heap.Fix(&q.items, r.queued.idx)
		}
	} else if !t.IsZero() {
		r.queued.at = t
		heap.Push(&q.items, r)
	}
	select {
	case q.poke <- struct{}{}:
	default:
	}
}

// run fires the runners whose time has come, at most workers at once,
// until ctx is cancelled.
func (q *timerQueue) run(ctx context.Context, workers int, fire func(context.Context, *runner)) {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		var due *runner
		wait := time.Hour
		if q.items.Len() > 0 {
			first := q.items.rs[0]
			if d := time.Until(first.queued.at); d <= 0 {
				due = heap.Pop(&q.items).(*runner)
			} else {
				wait = d
			}
		}
		q.mu.Unlock()
		if due != nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				fire(ctx, due)
			}()
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-q.poke:
		case <-timer.C:
		}
	}
}

// A slot is a runner's place in one of the engine's queues (the poll
// scheduler's, the timer queue's): its index in the heap, -1 when out of
// it, and the time it is due.
type slot struct {
	idx int
	at  time.Time
}

// runnerHeap orders runners by the due time of one of their slots.
type runnerHeap struct {
	rs   []*runner
	slot func(*runner) *slot
}

func (h *runnerHeap) Len() int           { return len(h.rs) }
func (h *runnerHeap) Less(i, j int) bool { return h.slot(h.rs[i]).at.Before(h.slot(h.rs[j]).at) }
func (h *runnerHeap) Swap(i, j int) {
	h.rs[i], h.rs[j] = h.rs[j], h.rs[i]
	h.slot(h.rs[i]).idx, h.slot(h.rs[j]).idx = i, j
}
func (h *runnerHeap) Push(x any) {
	r := x.(*runner)
	h.slot(r).idx = len(h.rs)
	h.rs = append(h.rs, r)
}
func (h *runnerHeap) Pop() any {
	r := h.rs[len(h.rs)-1]
	h.rs[len(h.rs)-1] = nil
	h.rs = h.rs[:len(h.rs)-1]
	h.slot(r).idx = -1
	return r
}
