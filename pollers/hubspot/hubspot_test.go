package hubspot_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspottest"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// portal and randomToken serve the HubSpot-specific tests of this package.
const portal = hubspottest.Portal

func randomToken() string { return hubspottest.RandomToken() }

func newHarness() *hubspottest.Harness { return hubspottest.NewHarness() }

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
