package main

import (
	"context"
	"encoding/json"
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
		for i := range *vendors {
			userID := int64(partizapFirstVendor + i)
			// A PHP-session-like value; the prefix keeps it apart from the
			// other simulators' hex keys.
			session := "pzs" + newKey()
			sim.AddVendor(userID, session)
			sim.Seed(userID, o.seedThreads, 4, time.Time{})
			id := strconv.FormatInt(userID, 10)
			m.accounts = append(m.accounts, account{
				provider: "partizap",
				id:       "vendor-" + id,
				baseURL:  o.baseURL,
				token:    session,
				options:  map[string]string{"user_id": id},
			})
			if o.rate > 0 {
				m.traffic = append(m.traffic, func(ctx context.Context) error {
					return sim.Traffic(ctx, userID, o.rate, nil)
				})
			}
		}
		return m, nil
	}
}

// partizapAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults  {"endpoint":"conversations","account":501,"status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	GET    /stats
func partizapAdmin(sim *partizapsim.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Endpoint   string `json:"endpoint"`
			Account    int64  `json:"account"`
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
		case "", partizapsim.EndpointConversations, partizapsim.EndpointMessages, partizapsim.EndpointSend, partizapsim.EndpointSearch:
		default:
			http.Error(w, "endpoint must be conversations, messages, send, search or empty", http.StatusBadRequest)
			return
		}
		sim.InjectFault(partizapsim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
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
