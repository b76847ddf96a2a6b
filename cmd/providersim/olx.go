package main

import (
	"context"
	"encoding/json"
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
		for i := range *accounts {
			id := "seller-" + strconv.Itoa(i+1)
			// OLX access tokens are opaque strings; the prefix tells them
			// from the other simulators' keys in the accounts file.
			token := "olx-" + newKey()
			sim.AddAccount(id, token)
			sim.Seed(id, o.seedThreads, 4, time.Time{})
			m.accounts = append(m.accounts, account{
				provider: "olx",
				id:       id,
				baseURL:  o.baseURL,
				token:    token,
				options:  map[string]string{"timezone": *zone},
			})
			if o.rate > 0 {
				m.traffic = append(m.traffic, func(ctx context.Context) error {
					return sim.Traffic(ctx, id, o.rate, nil)
				})
			}
		}
		return m, nil
	}
}

// olxAdmin lets demos and scripts break the OLX simulator on purpose:
//
//	POST   /faults  {"endpoint":"threads","account":"seller-1","status":503,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	GET    /stats
func olxAdmin(sim *olxsim.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Endpoint   string `json:"endpoint"`
			Account    string `json:"account"`
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
		case "", olxsim.EndpointThreads, olxsim.EndpointThread, olxsim.EndpointMessages,
			olxsim.EndpointMessage, olxsim.EndpointSend, olxsim.EndpointCommands:
		default:
			http.Error(w, "endpoint must be threads, thread, messages, message, send, commands or empty", http.StatusBadRequest)
			return
		}
		sim.InjectFault(olxsim.Fault{
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
