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
	items timerHeap
	poke  chan struct{}
}

func newTimerQueue() *timerQueue {
	return &timerQueue{poke: make(chan struct{}, 1)}
}

// set makes r's timers fire at t; zero removes r.
func (q *timerQueue) set(r *runner, t time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.queueIdx >= 0 {
		if t.IsZero() {
			heap.Remove(&q.items, r.queueIdx)
		} else {
			r.queueAt = t
			heap.Fix(&q.items, r.queueIdx)
		}
	} else if !t.IsZero() {
		r.queueAt = t
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
		if len(q.items) > 0 {
			first := q.items[0]
			if d := time.Until(first.queueAt); d <= 0 {
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

type timerHeap []*runner

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].queueAt.Before(h[j].queueAt) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].queueIdx, h[j].queueIdx = i, j
}
func (h *timerHeap) Push(x any) {
	r := x.(*runner)
	r.queueIdx = len(*h)
	*h = append(*h, r)
}
func (h *timerHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.queueIdx = -1
	return r
}
