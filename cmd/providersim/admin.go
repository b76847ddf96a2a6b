package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// adminFault is the body of POST /faults: which endpoint fails (empty:
// any), for which account, with what status, Retry-After, body and
// policy, and how many times.
type adminFault struct {
	Endpoint   string          `json:"endpoint"`
	Status     int             `json:"status"`
	RetryAfter string          `json:"retry_after"`
	Body       string          `json:"body"`
	Times      int             `json:"times"`
	Shop       *string         `json:"shop"`
	Account    json.RawMessage `json:"account"`
	Policy     *string         `json:"policy"`
}

// faultShape is how a provider's POST /faults names the account: in the
// field account ("shop" or "account"), a number when numeric, and which
// policies (sim.Fault.Policy) it takes, if any.
type faultShape struct {
	account  string
	numeric  bool
	policies []string
}

// fault checks in against the shape and the simulator's endpoints.
func (fs faultShape) fault(in adminFault, endpoints []string) (sim.Fault, error) {
	f := sim.Fault{Endpoint: in.Endpoint, Status: in.Status, RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times}
	switch {
	case in.Endpoint != "" && !slices.Contains(endpoints, in.Endpoint):
		return f, errors.New("endpoint must be " + strings.Join(endpoints, ", ") + " or empty")
	case in.Shop != nil && fs.account != "shop", in.Account != nil && fs.account != "account", in.Policy != nil && fs.policies == nil:
		return f, errors.New("bad fault: a field this simulator does not know")
	case in.Policy != nil && *in.Policy != "" && !slices.Contains(fs.policies, *in.Policy):
		return f, errors.New("policy must be " + strings.Join(fs.policies, ", ") + " or empty")
	}
	if in.Policy != nil {
		f.Policy = *in.Policy
	}
	if in.Shop != nil {
		f.Account = *in.Shop
	}
	if in.Account != nil {
		var err error
		if fs.numeric {
			var n int64
			if err = json.Unmarshal(in.Account, &n); n != 0 { // 0: any vendor
				f.Account = strconv.FormatInt(n, 10)
			}
		} else {
			err = json.Unmarshal(in.Account, &f.Account)
		}
		if err != nil {
			return f, fmt.Errorf("bad fault: account: %w", err)
		}
	}
	return f, nil
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

// adminHandler serves a simulator's admin API, which lets demos and scripts
// break the simulator on purpose:
//
//	POST   /faults    a JSON adminFault: {"endpoint":"M11","shop":"2001",
//	                  "status":503,"retry_after":"5","body":"","times":3}
//	                  (the account's field as the provider's faultShape
//	                  says; "policy" for HubSpot: TEN_SECONDLY_ROLLING or
//	                  DAILY); a bad fault answers 400
//	DELETE /faults    clears every fault
//	POST   /schedule  a JSON list of rules that replaces the sustained faults:
//	                  [{"every":3,"burst":1,"status":429,"retry_after":"1",
//	                    "delay":"3s","reset":false,"truncate":false}]
//	                  (see sim.Rule; an invalid rule answers 400)
//	DELETE /schedule  clears the sustained faults
//	GET    /stats     the simulator's Stats as JSON, plus Schedule: what the
//	                  schedule saw of each account that made a request, by
//	                  the simulator's account key (the one faults name)
//
// Unknown fields and bodies over 1 MiB are refused with 400.
func adminHandler(sched sim.Simulator, shape faultShape) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		var in adminFault
		if err := decode(w, r, &in); err != nil {
			http.Error(w, "bad fault: "+err.Error(), http.StatusBadRequest)
			return
		}
		f, err := shape.fault(in, sched.Endpoints())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sched.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) {
		sched.ClearFaults()
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
		b, err := json.Marshal(sched.Report())
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
