package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
)

func init() { register(simulator{provider: "hubspot", define: defineHubSpot}) }

// hubspotFirstPortal is the first simulated HubSpot account (portal) id:
// accounts are 24000001, 24000002, ... and threadsync's accounts
// portal-24000001, portal-24000002, ...
const hubspotFirstPortal = 24_000_001

func defineHubSpot(fs *flag.FlagSet) setupFunc {
	accounts := fs.Int("hubspot-accounts", 2, "number of simulated HubSpot accounts (accounts portal-24000001, portal-24000002, ...)")
	daily := fs.Int("hubspot-daily-limit", 0, "HubSpot requests per account per day before 429 DAILY, reset at UTC midnight (0: unlimited)")
	return func(o options) (*mount, error) {
		if *accounts < 0 {
			return nil, fmt.Errorf("-hubspot-accounts must not be negative, got %d", *accounts)
		}
		if *daily < 0 {
			return nil, fmt.Errorf("-hubspot-daily-limit must not be negative, got %d", *daily)
		}
		// -rps is per second; HubSpot counts per rolling 10 s, so the
		// simulator allows 10 × rps per window.
		sim := hubspotsim.New(hubspotsim.Config{RequestsPerSecond: o.rps, DailyLimit: *daily})
		m := &mount{handler: sim, admin: hubspotAdmin(sim)}
		sim.SetSchedule(o.schedule...)
		for i := range *accounts {
			portal := strconv.Itoa(hubspotFirstPortal + i)
			tok := hubspotToken()
			sim.AddAccount(portal, tok)
			sim.Seed(portal, o.seedThreads, 4, time.Time{})
			m.addAccount(o, account{
				provider: "hubspot",
				id:       "portal-" + portal,
				token:    tok,
				// The simulated accounts keep UTC, where their daily limit resets.
				options: map[string]string{"timezone": "UTC"},
			}, func(ctx context.Context, rate float64) error {
				return sim.Traffic(ctx, portal, rate, nil)
			})
		}
		return m, nil
	}
}

// hubspotToken returns a random secret shaped like a HubSpot private-app
// token (pat-<region>-<uuid>).
func hubspotToken() string {
	k := newKey()
	return "pat-na1-" + k[0:8] + "-" + k[8:12] + "-" + k[12:16] + "-" + k[16:20] + "-" + k[20:32]
}

// hubspotFault is the body of POST /_admin/hubspot/faults.
type hubspotFault struct {
	adminFault
	Account string `json:"account"`
	Policy  string `json:"policy"`
}

// hubspotAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults    {"endpoint":"threads","status":429,"policy":"DAILY","times":1}
//	DELETE /faults
//	POST   /schedule  [{"every":3,"status":429,"retry_after":"1"}]
//	DELETE /schedule
//	GET    /stats
//
// endpoint is threads, messages, original-content or empty (any); account
// restricts a fault to one portal; policy (TEN_SECONDLY_ROLLING or DAILY)
// picks the 429 body.
func hubspotAdmin(sim *hubspotsim.Server) http.Handler {
	inject := func(in hubspotFault) error {
		if err := in.checkEndpoint(hubspotsim.EndpointThreads, hubspotsim.EndpointMessages, hubspotsim.EndpointOriginalContent); err != nil {
			return err
		}
		switch in.Policy {
		case "", hubspotsim.PolicyBurst, hubspotsim.PolicyDaily:
		default:
			return errors.New("policy must be TEN_SECONDLY_ROLLING, DAILY or empty")
		}
		sim.InjectFault(hubspotsim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
			RetryAfter: in.RetryAfter, Policy: in.Policy, Body: in.Body, Times: in.Times,
		})
		return nil
	}
	return adminHandler(inject, sim.ClearFaults, func() any { return sim.Stats() }, sim)
}
