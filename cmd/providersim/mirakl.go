package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
)

func init() { register(simulator{provider: "mirakl", define: defineMirakl}) }

// miraklFirstShop is the first simulated shop id: shops are 2001, 2002, ...
// and their accounts shop-2001, shop-2002, ...
const miraklFirstShop = 2001

func defineMirakl(fs *flag.FlagSet) setupFunc {
	shops := fs.Int("mirakl-shops", 3, "number of simulated Mirakl shops (accounts shop-2001, shop-2002, ...)")
	return func(o options) (*mount, error) {
		if *shops < 0 {
			return nil, fmt.Errorf("-mirakl-shops must not be negative, got %d", *shops)
		}
		sim := miraklsim.New(miraklsim.Config{RequestsPerSecond: o.rps})
		m := &mount{handler: sim, admin: miraklAdmin(sim)}
		sim.SetSchedule(o.schedule...)
		for i := range *shops {
			shopID := strconv.Itoa(miraklFirstShop + i)
			key := newKey()
			sim.AddShop(shopID, key)
			sim.Seed(shopID, o.seedThreads, 4, time.Time{})
			m.addAccount(o, account{
				provider: "mirakl",
				id:       "shop-" + shopID,
				token:    key,
				options:  map[string]string{"shop_id": shopID},
			}, func(ctx context.Context, rate float64) error {
				return sim.Traffic(ctx, shopID, rate, nil)
			})
		}
		return m, nil
	}
}

// miraklFault is the body of POST /_admin/mirakl/faults.
type miraklFault struct {
	adminFault
	Shop string `json:"shop"`
}

// miraklAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults    {"endpoint":"M11","status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	POST   /schedule  [{"every":3,"status":429,"retry_after":"1"}]
//	DELETE /schedule
//	GET    /stats
func miraklAdmin(sim *miraklsim.Server) http.Handler {
	inject := func(in miraklFault) error {
		if err := in.checkEndpoint("M10", "M11", "M12"); err != nil {
			return err
		}
		sim.InjectFault(miraklsim.Fault{
			Endpoint: in.Endpoint, Shop: in.Shop, Status: in.Status,
			RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times,
		})
		return nil
	}
	return adminHandler(inject, sim.ClearFaults, func() any { return sim.Stats() }, sim)
}
