package hubspottest

import (
	"strconv"
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/pollerstest"
)

var _ pollerstest.RealTimer = (*Harness)(nil)

// NewRealTimeAccount is NewAccount on a simulator that stamps events with
// the real time, for the scenarios about reply deadlines: those are kept
// in the provider's time, which the other accounts' simulators run a
// minute behind.
func (h *Harness) NewRealTimeAccount(tb testing.TB, id string, pageSize int) pollers.Account {
	srv := hubspotsim.New(hubspotsim.Config{})
	baseURL := h.sims.Serve(tb, srv)
	tok := RandomToken()
	srv.AddAccount(Portal, tok)
	return pollers.Account{
		Provider: hubspot.Name, ID: id, BaseURL: baseURL, Token: tok,
		InitialSync: pollers.SyncFull,
		Options:     map[string]string{"page_size": strconv.Itoa(pageSize), "requests_per_second": "1000"},
	}
}
