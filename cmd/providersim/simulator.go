package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
	"github.com/threadsync/threadsync/pollers/sim"
)

// A simulator is one provider's entry, mounted under /<provider>/ and /_admin/<provider>/.
type simulator struct {
	// provider is the URL prefix, and -<count> (default n, usage help) the number of accounts.
	provider, count, help string
	n                     int
	// key names account i, id threadsync's account of a key, token makes its secret, and options
	// are added to the simulator's.
	key     func(i int) string
	id      func(key string) string
	token   func() string
	options map[string]string
	faults  faultShape // how POST /faults names the account
	// define registers the simulator's flags (-<provider>-...) and returns what builds it.
	define func(fs *flag.FlagSet) func(o options) (sim.Simulator, error)
	// then, when set, runs once the accounts (by key) are added.
	then func(s sim.Simulator, keys []string)
}

// simulators are the providers providersim serves, in order.
var simulators = []simulator{
	{
		provider: "hubspot", count: "hubspot-accounts", n: 2, help: "number of simulated HubSpot accounts (accounts portal-24000001, portal-24000002, ...)",
		key: from(24_000_001), id: prefixed("portal-"), token: hubspotToken,
		// The simulated accounts keep UTC, where their daily limit resets.
		options: map[string]string{"timezone": "UTC"},
		faults:  faultShape{account: "account", policies: []string{hubspotsim.PolicyBurst, hubspotsim.PolicyDaily}},
		define: func(fs *flag.FlagSet) func(o options) (sim.Simulator, error) {
			daily := fs.Int("hubspot-daily-limit", 0, "HubSpot requests per account per day before 429 DAILY, reset at UTC midnight (0: unlimited)")
			return func(o options) (sim.Simulator, error) {
				if *daily < 0 {
					return nil, fmt.Errorf("-hubspot-daily-limit must not be negative, got %d", *daily)
				}
				// HubSpot counts per rolling 10 s: 10 × rps per window.
				return hubspotsim.New(hubspotsim.Config{RequestsPerSecond: o.rps, DailyLimit: *daily}), nil
			}
		},
	},
	{
		provider: "mirakl", count: "mirakl-shops", n: 3, help: "number of simulated Mirakl shops (accounts shop-2001, shop-2002, ...)",
		key: from(2001), id: prefixed("shop-"), token: newKey, faults: faultShape{account: "shop"},
		define: plain(func(o options) sim.Simulator { return miraklsim.New(miraklsim.Config{RequestsPerSecond: o.rps}) }),
	},
	{
		provider: "olx", count: "olx-accounts", n: 2, help: "number of simulated OLX users (accounts seller-1, seller-2, ...)",
		key: func(i int) string { return "seller-" + strconv.Itoa(i+1) }, id: prefixed(""),
		// The prefix tells OLX's opaque tokens from the other keys.
		token: func() string { return "olx-" + newKey() }, faults: faultShape{account: "account"},
		define: func(fs *flag.FlagSet) func(o options) (sim.Simulator, error) {
			zone := fs.String("olx-timezone", "Europe/Warsaw", "IANA zone of the zone-less times the OLX simulator writes (the accounts' timezone option)")
			return func(o options) (sim.Simulator, error) {
				loc, err := time.LoadLocation(*zone)
				if err != nil || *zone == "" || *zone == "Local" {
					return nil, fmt.Errorf("-olx-timezone %q is not an IANA zone name", *zone)
				}
				return olxsim.New(olxsim.Config{RequestsPerSecond: o.rps, Location: loc}), nil
			}
		},
	},
	{
		provider: "partizap", count: "partizap-accounts", n: 2, help: "number of simulated Partizap vendors (accounts vendor-501, vendor-502, ...)",
		key: from(501), id: prefixed("vendor-"),
		// A PHP-session-like value, apart from the other hex keys.
		token: func() string { return "pzs" + newKey() }, faults: faultShape{account: "account", numeric: true},
		define: plain(func(o options) sim.Simulator { return partizapsim.New(partizapsim.Config{RequestsPerSecond: o.rps}) }),
	},
	{
		provider: "selfcommunity", count: "selfcommunity-accounts", n: 2,
		help: "number of SelfCommunity users read by threadsync, in one simulated community (accounts owner-1, owner-2, ...)",
		key:  func(i int) string { return "owner_" + strconv.Itoa(i+1) }, id: func(key string) string { return "owner-" + key[len("owner_"):] },
		// 26 letters and digits: an OAuth token's shape, not a hex key's.
		token: rand.Text, faults: faultShape{account: "account"},
		define: plain(func(o options) sim.Simulator {
			return selfcommunitysim.New(selfcommunitysim.Config{RequestsPerSecond: o.rps})
		}),
		then: func(s sim.Simulator, keys []string) {
			if len(keys) >= 2 {
				// The thread shows in both inboxes, inbound on one side and outbound on the other.
				s.(*selfcommunitysim.Server).AddThread(keys[0], selfcommunitysim.NewThread{With: keys[1], Text: "Can you take the meetup questions this week?"})
			}
		},
	},
}

type options struct {
	baseURL     string // without a trailing slash
	seedThreads int
	rps         float64    // rate limit per key; 0: none
	schedule    []sim.Rule // sustained faults from the start
}

// mount is a built simulator; traffic runs an account's live traffic until the context is done.
type mount struct {
	sim      sim.Simulator
	accounts []account
	traffic  []func(ctx context.Context, perSecond float64) error
}

// setup builds the simulator of s with n accounts, seeded, with each account's live traffic.
func (s simulator) setup(build func(options) (sim.Simulator, error), n int, o options) (*mount, error) {
	if n < 0 {
		return nil, fmt.Errorf("-%s must not be negative, got %d", s.count, n)
	}
	srv, err := build(o)
	if err != nil {
		return nil, err
	}
	srv.SetSchedule(o.schedule...)
	m := &mount{sim: srv}
	keys := make([]string, n)
	for i := range n {
		key, token := s.key(i), s.token()
		keys[i] = key
		opts := srv.Register(key, token)
		maps.Copy(opts, s.options)
		srv.Fill(key, o.seedThreads, 4)
		m.accounts = append(m.accounts, account{provider: s.provider, id: s.id(key), baseURL: o.baseURL, token: token, options: opts})
		m.traffic = append(m.traffic, func(ctx context.Context, perSecond float64) error { return srv.Traffic(ctx, key, perSecond, nil) })
	}
	if s.then != nil {
		s.then(srv, keys)
	}
	return m, nil
}

// account is one simulated account as threadsync's accounts file has it.
type account struct {
	provider, id, baseURL, token string
	options                      map[string]string
}

// plain is define for a simulator without flags of its own.
func plain(build func(o options) sim.Simulator) func(*flag.FlagSet) func(options) (sim.Simulator, error) {
	return func(*flag.FlagSet) func(options) (sim.Simulator, error) {
		return func(o options) (sim.Simulator, error) { return build(o), nil }
	}
}

// from names account i by the number first+i.
func from(first int) func(i int) string {
	return func(i int) string { return strconv.Itoa(first + i) }
}

// prefixed names a threadsync account by its simulator key after prefix.
func prefixed(prefix string) func(key string) string {
	return func(key string) string { return prefix + key }
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// hubspotToken is a secret shaped like a HubSpot private-app token.
func hubspotToken() string {
	k := newKey()
	return "pat-na1-" + k[0:8] + "-" + k[8:12] + "-" + k[12:16] + "-" + k[16:20] + "-" + k[20:32]
}
