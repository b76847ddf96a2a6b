package pollerstest

import (
	"fmt"
	"testing"
	"time"
)

// Until waits for ok to hold, checking it every 10ms, for the conditions
// that have no signal of their own (a count in a stream, a line in a log,
// a state in Engine.Status). After 30s it fails the test with what and
// show, such as the logs captured.
func Until(tb testing.TB, what string, ok func() bool, show fmt.Stringer) {
	tb.Helper()
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-deadline:
			tb.Fatalf("%s: not within 30s\n%s", what, show)
		case <-tick.C:
		}
	}
}
