package hubspottest

import (
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

var _ pollerstest.RealTimer = (*Harness)(nil)

// NewRealTimeAccount is NewAccount on a simulator that stamps events with
// the real time, for the scenarios about reply deadlines: those are kept
// in the provider's time, which the other accounts' simulators run a
// minute behind.
func (h *Harness) NewRealTimeAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	return h.newAccount(tb, id, pageSize, hubspotsim.Config{})
}
