package main

import (
	"context"
	"encoding/json"
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
		for i := range *accounts {
			portal := strconv.Itoa(hubspotFirstPortal + i)
			tok := hubspotToken()
			sim.AddAccount(portal, tok)
			sim.Seed(portal, o.seedThreads, 4, time.Time{})
			m.accounts = append(m.accounts, account{
				provider: "hubspot",
				id:       "portal-" + portal,
				baseURL:  o.baseURL,
				token:    tok,
				// The simulated accounts keep UTC, where their daily limit resets.
				options: map[string]string{"timezone": "UTC"},
			})
			if o.rate > 0 {
				m.traffic = append(m.traffic, func(ctx context.Context) error {
					return sim.Traffic(ctx, portal, o.rate, nil)
				})
			}
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

// hubspotAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults  {"endpoint":"threads","status":429,"policy":"DAILY","times":1}
//	DELETE /faults
//	GET    /stats
//
// endpoint is threads, messages, original-content or empty (any); account
// restricts a fault to one portal; policy (TEN_SECONDLY_ROLLING or DAILY)
// picks the 429 body.
func hubspotAdmin(sim *hubspotsim.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Endpoint   string `json:"endpoint"`
			Account    string `json:"account"`
			Status     int    `json:"status"`
			RetryAfter string `json:"retry_after"`
			Policy     string `json:"policy"`
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
		case "", hubspotsim.EndpointThreads, hubspotsim.EndpointMessages, hubspotsim.EndpointOriginalContent:
		default:
			http.Error(w, "endpoint must be threads, messages, original-content or empty", http.StatusBadRequest)
			return
		}
		switch in.Policy {
		case "", hubspotsim.PolicyBurst, hubspotsim.PolicyDaily:
		default:
			http.Error(w, "policy must be TEN_SECONDLY_ROLLING, DAILY or empty", http.StatusBadRequest)
			return
		}
		sim.InjectFault(hubspotsim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
			RetryAfter: in.RetryAfter, Policy: in.Policy, Body: in.Body, Times: in.Times,
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
