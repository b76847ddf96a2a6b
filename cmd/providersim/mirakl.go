package main

import (
	"context"
	"encoding/json"
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
		for i := range *shops {
			shopID := strconv.Itoa(miraklFirstShop + i)
			key := newKey()
			sim.AddShop(shopID, key)
			sim.Seed(shopID, o.seedThreads, 4, time.Time{})
			m.accounts = append(m.accounts, account{
				provider: "mirakl",
				id:       "shop-" + shopID,
				baseURL:  o.baseURL,
				token:    key,
				options:  map[string]string{"shop_id": shopID},
			})
			if o.rate > 0 {
				m.traffic = append(m.traffic, func(ctx context.Context) error {
					return sim.Traffic(ctx, shopID, o.rate, nil)
				})
			}
		}
		return m, nil
	}
}

// miraklAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults  {"endpoint":"M11","status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	GET    /stats
func miraklAdmin(sim *miraklsim.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Endpoint   string `json:"endpoint"`
			Shop       string `json:"shop"`
			Status     int    `json:"status"`
			RetryAfter string `json:"retry_after"`
			Body       string `json:"body"`
			Times      int    `json:"times"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, "bad fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		switch in.Endpoint {
		case "", "M10", "M11", "M12":
		default:
			http.Error(w, "endpoint must be M10, M11, M12 or empty", http.StatusBadRequest)
			return
		}
		sim.InjectFault(miraklsim.Fault{
			Endpoint: in.Endpoint, Shop: in.Shop, Status: in.Status,
			RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times,
		})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		sim.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(sim.Stats())
	})
	return mux
}
