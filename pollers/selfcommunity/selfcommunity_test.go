package selfcommunity_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/pollerstest"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// owner and randomToken serve the SelfCommunity-specific tests of this
// package.
const owner = pollerstest.SelfCommunityOwner

func randomToken() string { return pollerstest.SelfCommunity.Token() }

func newHarness() *pollerstest.SimHarness[*selfcommunitysim.Server] {
	return pollerstest.NewSimHarness(pollerstest.SelfCommunity)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}
