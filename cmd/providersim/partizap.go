package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
)

func init() { register(simulator{provider: "partizap", define: definePartizap}) }

// partizapFirstVendor is the first simulated vendor's user id: vendors are
// 501, 502, ... and their accounts vendor-501, vendor-502, ...
const partizapFirstVendor = 501

func definePartizap(fs *flag.FlagSet) setupFunc {
	vendors := fs.Int("partizap-accounts", 2, "number of simulated Partizap vendors (accounts vendor-501, vendor-502, ...)")
	return func(o options) (*mount, error) {
		if *vendors < 0 {
			return nil, fmt.Errorf("-partizap-accounts must not be negative, got %d", *vendors)
		}
		sim := partizapsim.New(partizapsim.Config{RequestsPerSecond: o.rps})
		m := &mount{handler: sim, admin: partizapAdmin(sim)}
		sim.SetSchedule(o.schedule...)
		for i := range *vendors {
			userID := int64(partizapFirstVendor + i)
			// A PHP-session-like value; the prefix keeps it apart from the
			// other simulators' hex keys.
			session := "pzs" + newKey()
			sim.AddVendor(userID, session)
			sim.Seed(userID, o.seedThreads, 4, time.Time{})
			id := strconv.FormatInt(userID, 10)
			m.addAccount(o, account{
				provider: "partizap",
				id:       "vendor-" + id,
				token:    session,
				options:  map[string]string{"user_id": id},
			}, func(ctx context.Context, rate float64) error {
				return sim.Traffic(ctx, userID, rate, nil)
			})
		}
		return m, nil
	}
}

// partizapFault is the body of POST /_admin/partizap/faults; account is a
// vendor's user id.
type partizapFault struct {
	adminFault
	Account int64 `json:"account"`
}

// partizapAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults    {"endpoint":"conversations","account":501,"status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	POST   /schedule  [{"every":3,"status":429,"retry_after":"1"}]
//	DELETE /schedule
//	GET    /stats
func partizapAdmin(sim *partizapsim.Server) http.Handler {
	inject := func(in partizapFault) error {
		if err := in.checkEndpoint(partizapsim.EndpointConversations, partizapsim.EndpointMessages,
			partizapsim.EndpointSend, partizapsim.EndpointSearch); err != nil {
			return err
		}
		sim.InjectFault(partizapsim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
			RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times,
		})
		return nil
	}
	return adminHandler(inject, sim.ClearFaults, func() any { return sim.Stats() }, sim)
}
