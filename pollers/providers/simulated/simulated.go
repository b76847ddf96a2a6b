// Package simulated is the one list of providers: each by its client's
// registration and its simulator's. pollerstest's harnesses and
// providersim read it; production's providers.All, which must not link the
// simulators, is generated from it (go test ./pollers/providers
// -update-readme), and a test fails while the two differ.
package simulated

import (
	"github.com/threadsync/threadsync/pollers/api"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
	"github.com/threadsync/threadsync/pollers/sim"
)

// Provider is a provider's client and its simulator, paired here because a
// simulator cannot name its client: a client's own tests import its
// simulator (pollers/hubspot's do).
type Provider struct {
	Client api.Registration
	Sim    sim.Registration
}

// All are the providers, in the order the accounts file's help and errors
// name them.
var All = []Provider{
	{olx.Provider, olxsim.Registration},
	{selfcommunity.Provider, selfcommunitysim.Registration},
	{partizap.Provider, partizapsim.Registration},
	{hubspot.Provider, hubspotsim.Registration},
	{mirakl.Provider, miraklsim.Registration},
}
