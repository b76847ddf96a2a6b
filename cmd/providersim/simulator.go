package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"log/slog"
	"net/http"

	"github.com/threadsync/threadsync/pollers/sim"
)

// A simulator is one provider's simulator as providersim serves it. Adding a
// provider is one file whose init calls register: the simulator is mounted
// under /<provider>/ (its base URL), its admin API under /_admin/<provider>/,
// and its accounts are written to the accounts file. Its setup applies
// options.schedule to the simulator.
type simulator struct {
	// provider is the name used in the URL prefix and the accounts file.
	provider string
	// define registers the simulator's own flags (named <provider>-...) and
	// returns the function that builds it once the flags are parsed.
	define func(fs *flag.FlagSet) setupFunc
}

type setupFunc func(o options) (*mount, error)

// options are the flags every simulator shares.
type options struct {
	baseURL     string     // where the simulator is served, without a trailing slash
	seedThreads int        // threads seeded per account
	rate        float64    // live messages per second per account; 0 = none
	rps         float64    // rate limit per key; 0 = unlimited
	schedule    []sim.Rule // sustained faults from the start; none when empty
	log         *slog.Logger
}

// mount is a built simulator.
type mount struct {
	handler  http.Handler // the provider API, relative to its base URL
	admin    http.Handler // optional: faults, schedule and stats, for demos
	accounts []account
	// traffic runs live traffic until the context is done.
	traffic []func(ctx context.Context) error
}

// addAccount adds the account a, served at o.baseURL, and, when o.rate is
// positive, live traffic for it from traffic(ctx, o.rate).
func (m *mount) addAccount(o options, a account, traffic func(ctx context.Context, rate float64) error) {
	a.baseURL = o.baseURL
	m.accounts = append(m.accounts, a)
	if o.rate > 0 {
		m.traffic = append(m.traffic, func(ctx context.Context) error { return traffic(ctx, o.rate) })
	}
}

// account is one simulated account as threadsync's accounts file describes it.
type account struct {
	provider string
	id       string
	baseURL  string
	token    string
	options  map[string]string
}

var simulators []simulator

func register(s simulator) { simulators = append(simulators, s) }

// newKey returns a random secret for a simulated account.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
