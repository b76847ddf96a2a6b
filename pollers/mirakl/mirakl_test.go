package mirakl_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// shopID and randomKey serve the Mirakl-specific tests of this package.
const shopID = pollerstest.MiraklShop

func randomKey() string { return pollerstest.Mirakl.Token() }

func newHarness() *pollerstest.SimHarness[*miraklsim.Server] {
	return pollerstest.NewSimHarness(pollerstest.Mirakl)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
