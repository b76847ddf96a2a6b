package olx_test

import (
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/olx/olxtest"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// simAccount, zone and randomToken serve the OLX-specific tests of this
// package.
const (
	simAccount = olxtest.User
	zone       = olxtest.Zone
)

var warsaw = mustZone(zone)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func randomToken() string { return olxtest.RandomToken() }

func newHarness() *olxtest.Harness { return olxtest.NewHarness() }

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
