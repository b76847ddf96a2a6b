package main

import (
	"cmp"
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

// adminFault is the body of POST /faults (see sim.Fault).
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

// fault checks in against the shape and the simulator's endpoints.
func fault(fs sim.Serve, in adminFault, endpoints []string) (sim.Fault, error) {
	f := sim.Fault{Endpoint: in.Endpoint, Status: in.Status, RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times}
	switch {
	case in.Endpoint != "" && !slices.Contains(endpoints, in.Endpoint):
		return f, errors.New("endpoint must be " + strings.Join(endpoints, ", ") + " or empty")
	case in.Shop != nil && fs.FaultAccount != "shop", in.Account != nil && fs.FaultAccount != "account", in.Policy != nil && fs.Policies == nil:
		return f, errors.New("bad fault: a field this simulator does not know")
	case in.Policy != nil && *in.Policy != "" && !slices.Contains(fs.Policies, *in.Policy):
		return f, errors.New("policy must be " + strings.Join(fs.Policies, ", ") + " or empty")
	}
	if in.Policy != nil {
		f.Policy = *in.Policy
	}
	if in.Shop != nil {
		f.Account = *in.Shop
	}
	if in.Account != nil {
		var err error
		if fs.Numeric {
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

// adminRule is a sim.Rule of POST /schedule, its delay a Go duration.
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
		out[i] = sim.Rule{Every: r.Every, Burst: r.Burst, Status: r.Status, RetryAfter: r.RetryAfter, Reset: r.Reset, Truncate: r.Truncate}
		var err error
		if out[i].Delay, err = time.ParseDuration(cmp.Or(r.Delay, "0")); err != nil {
			return nil, fmt.Errorf("rule %d: delay: %w", i+1, err)
		}
	}
	return out, sim.CheckRules(out...)
}

// adminHandler serves a simulator's admin API, for demos and scripts to
// break it on purpose; unknown fields, bodies over 1 MiB and bad faults or
// rules are refused with 400.
//
//	POST   /faults    {"endpoint":"M11","shop":"2001","status":503,"retry_after":"5","body":"","times":3}
//	                  (HubSpot takes a "policy": TEN_SECONDLY_ROLLING or DAILY)
//	DELETE /faults    clears every fault
//	POST   /schedule  [{"every":3,"burst":1,"status":429,"retry_after":"1","delay":"3s","reset":false,"truncate":false}]
//	DELETE /schedule  clears the sustained faults
//	GET    /stats     the simulator's Stats, plus Schedule: ScheduleStats by account key
func adminHandler(sched sim.Simulator, shape sim.Serve) http.Handler {
	mux := http.NewServeMux()
	change(mux, "POST /faults", "fault", func(in adminFault) error {
		f, err := fault(shape, in, sched.Endpoints())
		if err == nil {
			sched.InjectFault(f)
		}
		return err
	})
	change(mux, "POST /schedule", "schedule", func(in []adminRule) error {
		rs, err := rules(in)
		if err != nil {
			return fmt.Errorf("bad schedule: %w", err)
		}
		sched.SetSchedule(rs...)
		return nil
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, _ *http.Request) { sched.ClearFaults(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("DELETE /schedule", func(w http.ResponseWriter, _ *http.Request) { sched.SetSchedule(); w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		// The counters stay at the top level, where scripts read them.
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

// change serves a POST of a JSON In that apply applies: 204, or 400.
func change[In any](mux *http.ServeMux, pattern, what string, apply func(in In) error) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var in In
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		err := dec.Decode(&in)
		if err != nil {
			err = fmt.Errorf("bad %s: %w", what, err)
		} else {
			err = apply(in)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
