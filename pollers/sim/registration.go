package sim

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
)

// Registration is a simulator as pollerstest's harness and providersim use
// it. Each simulator package exports one, which pollers/providers/simulated
// pairs with its client, so that neither keeps a table of providers.
type Registration struct {
	// Define adds the simulator's flags, if any, to providersim's fs and
	// returns what builds it, limited to rps requests a second per key (0:
	// none). The harness builds it with the flags' defaults and no limit,
	// unless New is set: New's simulators run a clock of their own.
	Define func(fs *flag.FlagSet) func(rps float64) (Simulator, error)
	New    func() Simulator
	// Token makes a credential of the provider's shape. Account is the key
	// of every harness account, and Options win over what Register returns.
	Token   func() string
	Account string
	Options map[string]string
	// Remove takes a thread out of the list and Close closes it, where the
	// API can; TokenRefusal is the status of a page token the API no longer
	// knows (0: the client reads its tokens itself).
	Remove, Close func(s Simulator, account, threadID string)
	TokenRefusal  int
	Serve         Serve
}

// Serve is how providersim serves a simulator: -Count accounts (default N, usage
// Help) numbered from First, account i keyed KeyPrefix and First+i, in
// threadsync's accounts file IDPrefix and First+i with Options over what
// Register returns. POST /faults names them in a FaultAccount field ("shop"
// or "account"; a number if Numeric) and takes Policies. Then, if set, runs
// once the accounts are added.
type Serve struct {
	Count, Help         string
	N, First            int
	KeyPrefix, IDPrefix string
	Options             map[string]string
	FaultAccount        string
	Numeric             bool
	Policies            []string
	Then                func(s Simulator, keys []string)
}

// Plain is Define for a simulator without flags of its own.
func Plain(build func(rps float64) Simulator) func(*flag.FlagSet) func(float64) (Simulator, error) {
	return func(*flag.FlagSet) func(float64) (Simulator, error) {
		return func(rps float64) (Simulator, error) { return build(rps), nil }
	}
}

// Key is a random API key: 32 hex digits.
func Key() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
