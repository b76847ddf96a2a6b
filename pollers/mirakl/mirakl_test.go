package mirakl_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/mirakl/mirakltest"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// shopID and randomKey serve the Mirakl-specific tests of this package.
const shopID = mirakltest.ShopID

func randomKey() string { return mirakltest.RandomKey() }

func newHarness() *mirakltest.Harness { return mirakltest.NewHarness() }

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
