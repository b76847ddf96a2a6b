package olx_test

import (
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// simAccount, zone and randomToken serve the OLX-specific tests of this
// package.
const (
	simAccount = pollerstest.OLXUser
	zone       = pollerstest.OLXZone
)

var warsaw = mustZone(zone)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func randomToken() string { return pollerstest.OLX.Token() }

func newHarness() *pollerstest.SimHarness[*olxsim.Server] {
	return pollerstest.NewSimHarness(pollerstest.OLX)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
