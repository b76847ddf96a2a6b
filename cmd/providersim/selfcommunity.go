package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net/http"
	"strconv"

	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

func init() { register(simulator{provider: "selfcommunity", define: defineSelfCommunity}) }

// One simulated community; each account is a user of it (owner_1,
// owner_2, ...) read by threadsync as the accounts owner-1, owner-2, ...
func defineSelfCommunity(fs *flag.FlagSet) setupFunc {
	n := fs.Int("selfcommunity-accounts", 2, "number of SelfCommunity users read by threadsync, in one simulated community (accounts owner-1, owner-2, ...)")
	return func(o options) (*mount, error) {
		if *n < 0 {
			return nil, fmt.Errorf("-selfcommunity-accounts must not be negative, got %d", *n)
		}
		sim := selfcommunitysim.New(selfcommunitysim.Config{RequestsPerSecond: o.rps})
		m := &mount{handler: sim, admin: selfCommunityAdmin(sim)}
		sim.SetSchedule(o.schedule...)
		for i := range *n {
			username := "owner_" + strconv.Itoa(i+1)
			token := oauthToken()
			userID := sim.AddAccount(username, token)
			sim.Seed(username, o.seedThreads, 4)
			m.addAccount(o, account{
				provider: "selfcommunity",
				id:       "owner-" + strconv.Itoa(i+1),
				token:    token,
				options:  map[string]string{"user_id": userID},
			}, func(ctx context.Context, rate float64) error {
				return sim.Traffic(ctx, username, rate, nil)
			})
		}
		if *n >= 2 {
			// Two accounts of one community may write to each other: the
			// thread shows in both inboxes, inbound on one side and
			// outbound on the other.
			sim.AddThread("owner_1", selfcommunitysim.NewThread{With: "owner_2", Text: "Can you take the meetup questions this week?"})
		}
		return m, nil
	}
}

// oauthToken returns a random access token: 26 letters and digits, the
// shape of an OAuth token rather than of the hex keys other simulators use.
func oauthToken() string { return rand.Text() }

// selfCommunityFault is the body of POST /_admin/selfcommunity/faults.
type selfCommunityFault struct {
	adminFault
	Account string `json:"account"`
}

// selfCommunityAdmin lets demos and scripts break the simulator on purpose:
//
//	POST   /faults    {"endpoint":"snippets","account":"owner_1","status":429,"retry_after":"5","body":"","times":3}
//	DELETE /faults
//	POST   /schedule  [{"every":3,"status":429,"retry_after":"1"}]
//	DELETE /schedule
//	GET    /stats
func selfCommunityAdmin(sim *selfcommunitysim.Server) http.Handler {
	inject := func(in selfCommunityFault) error {
		if err := in.checkEndpoint(selfcommunitysim.EndpointSnippets, selfcommunitysim.EndpointThread,
			selfcommunitysim.EndpointMessage, selfcommunitysim.EndpointSend); err != nil {
			return err
		}
		sim.InjectFault(selfcommunitysim.Fault{
			Endpoint: in.Endpoint, Account: in.Account, Status: in.Status,
			RetryAfter: in.RetryAfter, Body: in.Body, Times: in.Times,
		})
		return nil
	}
	return adminHandler(inject, sim.ClearFaults, func() any { return sim.Stats() }, sim)
}
