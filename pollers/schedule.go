package pollers

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// scheduler runs the accounts' polls: a heap of the accounts waiting, by
// the time of their next poll, and a fixed pool of workers (Concurrency of
// them) that take the due ones in order. An account costs a heap entry
// while it waits, not a goroutine and a timer, so ten thousand accounts
// hold as many goroutines as polls can run at once, and each worker's
// stack, grown once, serves every poll after.
type scheduler struct {
	mu      sync.Mutex
	waiting runnerHeap
	busy    int  // accounts handed to workers and not back yet
	closed  bool // run has returned: an account added now is done at once
	poke    chan struct{}
}

func newScheduler() *scheduler {
	return &scheduler{poke: make(chan struct{}, 1), waiting: runnerHeap{slot: func(r *runner) *slot { return &r.polled }}}
}

// add schedules the first poll of r, which start has given its context,
// spread over up to two seconds so that thousands of accounts do not
// start at once.
func (s *scheduler) add(r *runner) {
	wait := time.Duration(rand.Int64N(int64(min(r.acct.PollInterval, 2*time.Second)) + 1))
	s.at(r, time.Now().Add(wait))
}

// at makes r's next poll due at t.
func (s *scheduler) at(r *runner, t time.Time) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(r.done)
		return
	}
	r.polled.at = t
	if r.polled.idx >= 0 {
		heap.Fix(&s.waiting, r.polled.idx)
	} else {
		heap.Push(&s.waiting, r)
	}
	s.mu.Unlock()
	s.wake()
}

// now makes r's next poll due at once, if r is waiting; a poll under way
// sees the request in r.kick when it ends.
func (s *scheduler) now(r *runner) {
	s.mu.Lock()
	waiting := r.polled.idx >= 0
	if waiting {
		r.polled.at = time.Time{}
		heap.Fix(&s.waiting, r.polled.idx)
	}
	s.mu.Unlock()
	if waiting {
		s.wake()
	}
}

func (s *scheduler) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// run hands the due accounts to workers until ctx is cancelled; then
// every account finishes (its lease released) and run returns once all
// have.
func (s *scheduler) run(ctx context.Context, workers int) {
	s.mu.Lock()
	s.closed = false
	s.mu.Unlock()
	work := make(chan *runner)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for r := range work {
				s.serve(r)
			}
		})
	}
	defer func() {
		close(work)
		wg.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := ctx.Done()
	for {
		stopping := ctx.Err() != nil
		s.mu.Lock()
		var due *runner
		wait := time.Hour
		if s.waiting.Len() > 0 {
			if d := time.Until(s.waiting.rs[0].polled.at); d <= 0 || stopping {
				due = heap.Pop(&s.waiting).(*runner)
				s.busy++
			} else {
				wait = d
			}
		} else if stopping && s.busy == 0 {
			s.closed = true
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if due != nil {
			work <- due
			continue
		}
		if stopping {
			done = nil // from now on only the accounts coming back matter
		}
		timer.Reset(wait)
		select {
		case <-done:
		case <-s.poke:
		case <-timer.C:
		}
	}
}

// serve polls r once, unless it was stopped, and schedules its next poll;
// a stopped account releases its lease and is done.
func (s *scheduler) serve(r *runner) {
	stopped := r.ctx.Err() != nil
	var wait time.Duration
	if !stopped {
		select {
		case <-r.kick: // this poll is the one asked for
		default:
		}
		wait = r.pollStep(r.ctx)
		if len(r.kick) > 0 {
			wait = 0 // asked for again while polling
		}
		stopped = r.ctx.Err() != nil
	}
	if stopped {
		r.release()
		close(r.done)
	}
	s.mu.Lock()
	s.busy--
	if !stopped {
		r.polled.at = time.Now().Add(wait)
		heap.Push(&s.waiting, r)
	}
	s.mu.Unlock()
	s.wake()
}
