package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// adminFault is what every simulator's POST /faults body holds: which
// endpoint fails (empty: any), with what status, Retry-After and body, and
// how many times. Each simulator's fault request embeds it and adds the
// field that picks the account.
type adminFault struct {
	Endpoint   string `json:"endpoint"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retry_after"`
	Body       string `json:"body"`
	Times      int    `json:"times"`
}

// checkEndpoint returns the error POST /faults answers when f.Endpoint is
// neither empty nor one of endpoints.
func (f adminFault) checkEndpoint(endpoints ...string) error {
	if f.Endpoint == "" || slices.Contains(endpoints, f.Endpoint) {
		return nil
	}
	return errors.New("endpoint must be " + strings.Join(endpoints, ", ") + " or empty")
}

// adminHandler serves a simulator's admin API, which lets demos and scripts
// break the simulator on purpose:
//
//	POST   /faults  a JSON F; inject's error, if any, answers 400
//	DELETE /faults  clears every fault
//	GET    /stats   stats() as JSON
//
// F is the provider's fault request; unknown fields and bodies over 1 MiB are
// refused with 400.
func adminHandler[F any](inject func(F) error, clear func(), stats func() any) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in F
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, "bad fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := inject(in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		clear()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(stats())
	})
	return mux
}
