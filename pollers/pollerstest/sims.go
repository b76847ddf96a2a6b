package pollerstest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/threadsync/threadsync/pollers"
)

// Sims keeps the simulators a Harness serves, one per account, by the
// account's base URL. It is safe for concurrent use; the zero value is
// ready to use.
type Sims[S http.Handler] struct {
	mu   sync.Mutex
	sims map[string]S // by base URL
}

// Serve serves sim on a local test server, closed when tb's test ends, and
// returns the server's base URL.
func (s *Sims[S]) Serve(tb testing.TB, sim S) (baseURL string) {
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sims == nil {
		s.sims = map[string]S{}
	}
	s.sims[srv.URL] = sim
	return srv.URL
}

// Get returns the simulator serving the account, or the zero S if Serve
// never returned its base URL.
func (s *Sims[S]) Get(a pollers.Account) S {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sims[a.BaseURL]
}
