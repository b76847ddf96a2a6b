package selfcommunity_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitytest"
)

// owner and randomToken serve the SelfCommunity-specific tests of this
// package.
const owner = selfcommunitytest.Owner

func randomToken() string { return selfcommunitytest.RandomToken() }

func newHarness() *selfcommunitytest.Harness { return selfcommunitytest.NewHarness() }

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
