package pollers

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// share splits the accounts among the workers given the same accounts file
// (replicas): each account goes to one live worker by rendezvous hashing,
// so a worker joining or leaving moves only the accounts it gains or gives
// up. Leases remain the guarantee that one worker at a time advances an
// account; the share only decides which worker tries.
type share struct {
	self string

	mu      sync.RWMutex
	members []string // sorted; empty until the first heartbeat: every account is ours
	gen     uint64   // counts changes of members
}

// update records the workers alive and reports whether they changed.
func (s *share) update(members []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(members, s.self) {
		// Our own heartbeat lapsed (a Redis outage); we are alive anyway.
		members = append(slices.Clone(members), s.self)
	}
	slices.Sort(members)
	if slices.Equal(members, s.members) {
		return false
	}
	s.members = members
	s.gen++
	return true
}

// join names this worker; until then, and until the first heartbeat,
// every account is its own.
func (s *share) join(self string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.self = self
}

// owner is the worker the account key goes to, whether that is this one,
// and the generation of the membership that decided it.
func (s *share) owner(key string) (owner string, self bool, gen uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.members) == 0 {
		return s.self, true, s.gen
	}
	var best string
	var top uint64
	for _, m := range s.members {
		// A cryptographic hash: worker ids and account keys differ in a few
		// trailing bytes, which a simple hash like FNV barely mixes, and
		// then one worker wins nearly every account.
		sum := sha256.Sum256([]byte(m + "\x00" + key))
		if v := binary.BigEndian.Uint64(sum[:8]); best == "" || v > top {
			best, top = m, v
		}
	}
	return best, best == s.self, s.gen
}

func (s *share) size() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return max(1, len(s.members))
}

// heartbeat keeps the worker among the workers alive until ctx is done, then
// takes it out. The first beat is made before it returns.
func (e *Engine) heartbeat(ctx context.Context) (stop func()) {
	e.share.join(e.cfg.Store.Owner())
	ttl := e.cfg.LeaseTTL
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, ttl/3)
		defer cancel()
		ids, err := e.cfg.Store.Heartbeat(bctx, ttl)
		if err != nil {
			// Redis is down: the accounts' polls report it; keep the last view.
			e.cfg.Logger.Debug("heartbeat failed", "error", err)
			return
		}
		if e.share.update(ids) {
			e.cfg.Logger.Info("workers sharing the accounts", "workers", e.share.size(), "self", e.cfg.Store.Owner())
		}
	}
	beat()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				if err := e.cfg.Store.Leave(lctx); err != nil {
					e.cfg.Logger.Warn("leave the workers", "error", err)
				}
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() { <-done }
}

// adoptAfter is how many polls in a row an account's lease must be seen
// free before a worker the share does not give it to takes it anyway: the
// worker it goes to may not have the account in its file.
const adoptAfter = 3

// mine reports whether the worker should poll the account now: it holds
// the lease, the share gives it the account, or the account has gone
// unpolled for adoptAfter polls in a row.
func (r *runner) mine(ctx context.Context) bool {
	r.mu.Lock()
	held := r.lease.Token != ""
	r.mu.Unlock()
	if held {
		return true
	}
	owner, self, gen := r.share.owner(r.acct.Key())
	if self {
		r.freeSeen = 0
		return true
	}
	free, err := r.cfg.Store.LeaseFree(ctx, r.ck)
	if err != nil {
		return true // the poll reports the store's failure
	}
	if !free {
		r.freeSeen = 0
		return false
	}
	if r.freeSeen++; r.freeSeen < adoptAfter {
		return false
	}
	r.freeSeen, r.adopted = 0, gen
	r.log.Info("adopting an account no other worker polls", "share_owner", owner)
	return true
}

// handOff gives up the lease of an account the share gives to another
// worker, after a poll that committed everything, so that worker takes it
// at its next poll. An adopted account stays until the workers change.
func (r *runner) handOff() {
	owner, self, gen := r.share.owner(r.acct.Key())
	if self || r.adopted == gen {
		return
	}
	r.log.Debug("handing the account over", "to", owner)
	r.release()
}
