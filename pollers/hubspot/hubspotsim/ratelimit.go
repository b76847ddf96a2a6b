package hubspotsim

import (
	"sync"
	"time"
)

// window is HubSpot's rolling burst limit: at most max requests in any span
// of time. It keeps the times of the requests still inside the window in a
// ring, so a check is O(1) amortised, and it runs on the server's clock
// (Config.Now) so a test with a fake clock sees exactly the 429s it
// expects.
type window struct {
	mu    sync.Mutex
	max   int
	span  time.Duration
	times []int64 // ring of request times (UnixNano), oldest at head
	head  int
	n     int
	last  int64
}

func newWindow(max int, span time.Duration) *window {
	return &window{max: max, span: span, times: make([]int64, max)}
}

// take admits a request at now if the window has room. It returns the room
// left after it and, when refused, how long until a request leaves the
// window.
func (w *window) Take(now time.Time) (remaining int, wait time.Duration, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := now.UnixNano()
	// A clock that steps back adds no room.
	t = max(t, w.last)
	w.last = t
	for w.n > 0 && w.times[w.head] <= t-int64(w.span) {
		w.head = (w.head + 1) % w.max
		w.n--
	}
	if w.n == w.max {
		return 0, time.Duration(w.times[w.head] + int64(w.span) - t), false
	}
	w.times[(w.head+w.n)%w.max] = t
	w.n++
	return w.max - w.n, 0, true
}

// daily is an account's daily allowance, reset at midnight in its time
// zone.
type daily struct {
	limit int // 0: unlimited

	mu    sync.Mutex
	loc   *time.Location
	day   string // the day counted, YYYY-MM-DD in loc
	count int
}

func (d *daily) setLocation(loc *time.Location) {
	d.mu.Lock()
	d.loc = loc
	d.mu.Unlock()
}

// take counts a request at now and reports the allowance left, refusing
// when none was.
func (d *daily) take(now time.Time) (remaining int, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if day := now.In(d.loc).Format(time.DateOnly); day != d.day {
		d.day, d.count = day, 0
	}
	if d.count >= d.limit {
		return 0, false
	}
	d.count++
	return d.limit - d.count, true
}
