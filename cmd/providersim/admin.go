package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
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

// adminRule is one rule of POST /schedule, a sim.Rule with its delay as a
// Go duration ("3s", "250ms").
type adminRule struct {
	Every      int    `json:"every"`
	Burst      int    `json:"burst"`
	Status     int    `json:"status"`
	RetryAfter string `json:"retry_after"`
	Delay      string `json:"delay"`
	Reset      bool   `json:"reset"`
	Truncate   bool   `json:"truncate"`
}

// rules converts POST /schedule's rules, checking them.
func rules(in []adminRule) ([]sim.Rule, error) {
	out := make([]sim.Rule, len(in))
	for i, r := range in {
		var delay time.Duration
		if r.Delay != "" {
			d, err := time.ParseDuration(r.Delay)
			if err != nil {
				return nil, fmt.Errorf("rule %d: delay: %w", i+1, err)
			}
			delay = d
		}
		out[i] = sim.Rule{
			Every: r.Every, Burst: r.Burst, Status: r.Status, RetryAfter: r.RetryAfter,
			Delay: delay, Reset: r.Reset, Truncate: r.Truncate,
		}
	}
	return out, sim.CheckRules(out...)
}

// scheduled is what every simulator offers for sustained faults.
type scheduled interface {
	SetSchedule(rules ...sim.Rule)
	AllScheduleStats() map[string]sim.Observed
}

// adminHandler serves a simulator's admin API, which lets demos and scripts
// break the simulator on purpose:
//
//	POST   /faults    a JSON F; inject's error, if any, answers 400
//	DELETE /faults    clears every fault
//	POST   /schedule  a JSON list of rules that replaces the sustained faults:
//	                  [{"every":3,"burst":1,"status":429,"retry_after":"1",
//	                    "delay":"3s","reset":false,"truncate":false}]
//	                  (see sim.Rule; an invalid rule answers 400)
//	DELETE /schedule  clears the sustained faults
//	GET    /stats     stats() as JSON, plus Schedule: what the schedule saw
//	                  of each account that made a request, by the
//	                  simulator's account key (the one faults name)
//
// F is the provider's fault request; unknown fields and bodies over 1 MiB are
// refused with 400.
func adminHandler[F any](inject func(F) error, clear func(), stats func() any, sched scheduled) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in F
		if err := decode(w, r, &in); err != nil {
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
	mux.HandleFunc("POST /schedule", func(w http.ResponseWriter, r *http.Request) {
		var in []adminRule
		if err := decode(w, r, &in); err != nil {
			http.Error(w, "bad schedule: "+err.Error(), http.StatusBadRequest)
			return
		}
		rs, err := rules(in)
		if err != nil {
			http.Error(w, "bad schedule: "+err.Error(), http.StatusBadRequest)
			return
		}
		sched.SetSchedule(rs...)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /schedule", func(w http.ResponseWriter, _ *http.Request) {
		sched.SetSchedule()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		// The simulator's counters stay at the top level, where scripts
		// read them; the schedule's join them as one more field.
		b, err := json.Marshal(stats())
		var fields map[string]json.RawMessage
		if err == nil {
			err = json.Unmarshal(b, &fields)
		}
		if err == nil {
			fields["Schedule"], err = json.Marshal(sched.AllScheduleStats())
		}
		if err != nil {
			http.Error(w, "stats: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(fields)
	})
	return mux
}

// decode reads a request's JSON body into v, refusing unknown fields and
// bodies over 1 MiB.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
