package hubspot_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// BenchmarkProvider is HubSpot's row of the per-provider table.
func BenchmarkProvider(b *testing.B) { pollerstest.Bench(b, newHarness(), 10000) }
