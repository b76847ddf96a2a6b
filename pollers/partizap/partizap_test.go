package partizap_test

import (
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// vendorID and randomSession serve the Partizap-specific tests of this
// package.
const vendorID = pollerstest.PartizapVendor

func randomSession() string { return pollerstest.Partizap(partizapsim.Config{}, nil).Token() }

func newHarness() *pollerstest.SimHarness[*partizapsim.Server] {
	return pollerstest.NewSimHarness(pollerstest.Partizap(partizapsim.Config{}, nil))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, newHarness())
}

// TestConformanceOtherShapes runs the suite against the other API shapes
// partizap.md leaves possible: ids as strings, zone-less local times, an
// offset cursor over an oldest-first list, messages oldest first at another
// path.
func TestConformanceOtherShapes(t *testing.T) {
	t.Parallel()
	pollerstest.Run(t, pollerstest.NewSimHarness(pollerstest.Partizap(partizapsim.Config{
		IDsAsStrings:  true,
		TimeLayout:    time.DateTime,
		OffsetCursor:  true,
		Order:         partizapsim.OldestFirst,
		MessagesOrder: partizapsim.OldestFirst,
		MessagesPath:  "/vendor/chats/{id}/messages",
	}, map[string]string{"messages_path": "/vendor/chats/{id}/messages", "messages_page_size": "2"})))
}
