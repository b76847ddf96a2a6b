package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/threadsync/threadsync/pollers/providers/simulated"
	"github.com/threadsync/threadsync/pollers/sim"
)

// simulators are the providers providersim serves, each mounted under /<provider>/ and
// /_admin/<provider>/, in name order.
var simulators = slices.SortedFunc(slices.Values(simulated.All), func(a, b simulated.Provider) int {
	return strings.Compare(a.Client.Name, b.Client.Name)
})

type options struct {
	baseURL     string // without a trailing slash
	seedThreads int
	rps         float64    // rate limit per key; 0: none
	schedule    []sim.Rule // sustained faults from the start
}

// mount is a built simulator; traffic runs an account's live traffic until the context is done.
type mount struct {
	sim      sim.Simulator
	accounts []account
	traffic  []func(ctx context.Context, perSecond float64) error
}

// setup builds the simulator of p with n accounts, seeded, with each account's live traffic.
func setup(p simulated.Provider, build func(rps float64) (sim.Simulator, error), n int, o options) (*mount, error) {
	s := p.Sim.Serve
	if n < 0 {
		return nil, fmt.Errorf("-%s must not be negative, got %d", s.Count, n)
	}
	srv, err := build(o.rps)
	if err != nil {
		return nil, err
	}
	srv.SetSchedule(o.schedule...)
	m := &mount{sim: srv}
	keys := make([]string, n)
	for i := range n {
		num, token := strconv.Itoa(s.First+i), p.Sim.Token()
		key := s.KeyPrefix + num
		keys[i] = key
		opts := srv.Register(key, token)
		maps.Copy(opts, s.Options)
		srv.Fill(key, o.seedThreads, 4)
		m.accounts = append(m.accounts, account{provider: p.Client.Name, id: s.IDPrefix + num, baseURL: o.baseURL, token: token, options: opts})
		m.traffic = append(m.traffic, func(ctx context.Context, perSecond float64) error { return srv.Traffic(ctx, key, perSecond, nil) })
	}
	if s.Then != nil {
		s.Then(srv, keys)
	}
	return m, nil
}

// account is one simulated account as threadsync's accounts file has it.
type account struct {
	provider, id, baseURL, token string
	options                      map[string]string
}
