package miraklsim

import "github.com/threadsync/threadsync/pollers/sim"

// newID returns a UUID-shaped id. Ids come from a counter run through a
// mixing function rather than from crypto/rand: they look like Mirakl's,
// sort in no particular order (so the id tie-break of the M11 order is
// exercised), and a test that creates the same data in the same order gets
// the same ids every run.
func (s *Server) newID() string { return sim.UUID(s.idSeq.Add(1)) }
