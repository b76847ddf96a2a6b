package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/olx/olxsim"
)

func init() { register(simulator{provider: "olx", define: defineOLX}) }

func defineOLX(fs *flag.FlagSet) setupFunc {
	accounts := fs.Int("olx-accounts", 2, "number of simulated OLX users (accounts seller-1, seller-2, ...)")
	zone := fs.String("olx-timezone", "Europe/Warsaw", "IANA zone of the zone-less times the OLX simulator writes (the accounts' timezone option)")
	return func(o options) (*mount, error) {
		if *accounts < 0 {
			return nil, fmt.Errorf("-olx-accounts must not be negative, got %d", *accounts)
		}
		loc, err := time.LoadLocation(*zone)
		if err != nil || *zone == "" || *zone == "Local" {
			return nil, fmt.Errorf("-olx-timezone %q is not an IANA zone name", *zone)
		}
		sim := olxsim.New(olxsim.Config{RequestsPerSecond: o.rps, Location: loc})
		m := &mount{handler: sim, admin: olxAdmin(sim)}
		sim.SetSchedule(o.schedule...)
		for i := range *accounts {
			id := "seller-" + strconv.Itoa(i+1)
			// OLX access tokens are opaque strings; the prefix tells them
			// from the other simulators' keys in the accounts file.
			token := "olx-" + newKey()
			sim.AddAccount(id, token)
			sim.Seed(id, o.seedThreads, 4, time.Time{})
			m.addAccount(o, account{
				provider: "olx",
				id:       id,
				token:    token,
				options:  map[string]string{"timezone": *zone},
			}, func(ctx context.Context, rate float64) error {
				return sim.Traffic(ctx, id, rate, nil)
			})
		}
		return m, nil
	}
}

// olxFault is the body of POST /_admin/olx/faults.
type olxFault struct {
	adminFault
	Account string `json:"account"`
}

// olxAdmin lets demos and scripts break the OLX simulator on purpose:
//
//	POST   /faults    {"endpoint":"threads","account":"seller-1","status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	POST   /schedule  [{"every":3,"status":429,"retry_after":"1"}]
//	DELETE /schedule
//	GET    /stats
func olxAdmin(sim *olxsim.Server) http.Handler {
	inject := func(in olxFault) error {
		if err := in.checkEndpoint(olxsim.EndpointThreads, olxsim.EndpointThread, olxsim.EndpointMessages,
			olxsim.EndpointMessage, olxsim.EndpointSend, olxsim.EndpointCommands); err != nil {
			return err
		}
		sim.InjectFault(olxsim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
			RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times,
		})
		return nil
	}
	return adminHandler(inject, sim.ClearFaults, func() any { return sim.Stats() }, sim)
}
