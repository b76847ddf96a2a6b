package partizap_test

import (
	"testing"

	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// BenchmarkProvider is Partizap's row of the per-provider table.
func BenchmarkProvider(b *testing.B) { pollerstest.Bench(b, newHarness(), 10000) }

// BenchmarkFaultTax is partizap's row of the fault-tax table: an initial sync of
// 2,000 threads without faults and with a 429 on every 5th request.
func BenchmarkFaultTax(b *testing.B) { pollerstest.FaultTax(b, newHarness(), 2000) }
