package pollerstest

import (
	"flag"
	"maps"
	"slices"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/providers/simulated"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
	"github.com/threadsync/threadsync/pollers/sim"
)

// The simulators' accounts every harness account reads (their
// registrations' Account).
const (
	// MiraklShop is the Mirakl shop.
	MiraklShop = miraklsim.HarnessShop
	// OLXUser is the OLX user, and OLXZone where the OLX simulator writes
	// its zone-less times: the suite then checks that the client reads
	// them in the account's timezone.
	OLXUser = olxsim.HarnessUser
	OLXZone = olxsim.HarnessZone
	// HubSpotPortal is the HubSpot account.
	HubSpotPortal = hubspotsim.HarnessPortal
	// PartizapVendor is the Partizap vendor's user id.
	PartizapVendor = partizapsim.HarnessVendor
	// SelfCommunityOwner is the username of the SelfCommunity user.
	SelfCommunityOwner = selfcommunitysim.HarnessOwner
)

// The simulators of the providers, typed for the tests that drive them
// beyond sim.Simulator. The rates of the providers with a default pace
// (their registrations' Options) make the suite wait, not test more: every
// changed thread costs a message request.
var (
	Mirakl        = SimOf[*miraklsim.Server]("mirakl")
	OLX           = SimOf[*olxsim.Server]("olx")
	HubSpot       = SimOf[*hubspotsim.Server]("hubspot")
	SelfCommunity = SimOf[*selfcommunitysim.Server]("selfcommunity")
)

// Partizap is the Partizap simulator in the shape cfg gives it, read with
// options on top of the harness's own, so one suite can cover the API
// shapes partizap.md leaves open.
func Partizap(cfg partizapsim.Config, options map[string]string) Sim[*partizapsim.Server] {
	s := SimOf[*partizapsim.Server]("partizap")
	s.New = func() *partizapsim.Server { return partizapsim.New(cfg) }
	s.Options = maps.Clone(s.Options)
	maps.Copy(s.Options, options)
	return s
}

// SimOf is the Sim of the provider name in simulated.All, whose simulators
// are S.
func SimOf[S sim.Simulator](name string) Sim[S] {
	i := slices.IndexFunc(simulated.All, func(p simulated.Provider) bool { return p.Client.Name == name })
	if i < 0 {
		panic("pollerstest: no simulated provider " + name)
	}
	return simOf[S](simulated.All[i])
}

func simOf[S sim.Simulator](p simulated.Provider) Sim[S] {
	r := p.Sim
	// The harness's simulators are the ones providersim serves, with the
	// flags' defaults and no rate limit, unless the registration has a New
	// of its own: those keep the real time then.
	build := r.Define(flag.NewFlagSet(p.Client.Name, flag.PanicOnError))
	served := func() S { return sim.Must(build(0)).(S) }
	act := func(f func(sim.Simulator, string, string)) func(S, string, string) {
		if f == nil {
			return nil
		}
		return func(s S, account, threadID string) { f(s, account, threadID) }
	}
	s := Sim[S]{
		Name: p.Client.Name, Factory: p.Client.New, New: served,
		Account: r.Account, Token: r.Token, Options: r.Options,
		Remove: act(r.Remove), Close: act(r.Close), TokenRefusal: r.TokenRefusal,
	}
	if r.New != nil {
		s.New, s.RealTime = func() S { return r.New().(S) }, served
	}
	return s
}

// Harnesses are the harnesses of simulated.All, in its order and default
// shapes: a RealTimeHarness for a provider with a RealTime simulator.
func Harnesses() []Harness {
	hs := make([]Harness, len(simulated.All))
	for i, p := range simulated.All {
		if s := simOf[sim.Simulator](p); s.RealTime != nil {
			hs[i] = NewRealTimeHarness(s)
		} else {
			hs[i] = NewSimHarness(s)
		}
	}
	return hs
}
