package hubspot_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// portal and randomToken serve the HubSpot-specific tests of this package.
const portal = pollerstest.HubSpotPortal

func randomToken() string { return pollerstest.HubSpot.Token() }

func newHarness() pollerstest.RealTimeHarness[*hubspotsim.Server] {
	return pollerstest.NewRealTimeHarness(pollerstest.HubSpot)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
