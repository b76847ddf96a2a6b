package pollers

import (
	"context"
	"errors"
	"hash/maphash"
	"net/http"
	"sync"
	"time"
)

// Most polls of a quiet account read pages that have not changed since the
// last poll: a full-scan provider lists every thread, every time. Decoding
// such a page, reading its threads' states and comparing them is most of
// what an idle poll costs. samePages lets a walk skip that work when it
// provably yields nothing: the page's request and answer are byte for byte
// those of a page that, under this same lease, yielded nothing, and the
// account's stored states have not changed since.
//
// What can change a stored state is the reason every entry is dropped: a
// page that changed a thread (here or in a walk that failed), a lease taken
// anew (another worker may have written), a reset, a backfill, a cursor
// that is not the one this runner committed last, any failed walk. What
// remains true between those is the engine's own rule: a thread whose
// listed version equals its stored one yields nothing.
type samePages struct {
	mu    sync.Mutex
	lease string    // the lease token the entries were recorded under
	at    time.Time // the Committed of the cursor this runner wrote last
	pages map[pageKey]*samePage
	off   bool // the provider answered a skipped request with an error of its own
}

// pageKey is the page a query asks for.
type pageKey struct {
	token, state string
	walk         Walk
	since        int64
}

func keyOfQuery(q Query) pageKey {
	var since int64
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	return pageKey{token: q.Token, state: q.State, walk: q.Walk, since: since}
}

// samePage is what a walk needs of a page it skips: where the walk goes
// next, the page's newest update time (the incremental watermark), how
// many threads it listed, and, for offset pagination, their ids hashed, so
// that a thread listed twice in one walk is still seen.
type samePage struct {
	digest      digest
	next, state string
	drift       bool
	high        time.Time
	threads     int
	ids         []uint64
}

// digest is 128 bits of a request and its answer.
type digest [2]uint64

var digestSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// idSeed hashes thread ids for the walk's look for a thread listed twice.
var idSeed = maphash.MakeSeed()

func digestOf(req *http.Request, body []byte) digest {
	var d digest
	for i, seed := range digestSeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(req.Method)
		h.WriteByte(' ')
		h.WriteString(req.URL.String())
		h.WriteByte(0)
		h.Write(body)
		d[i] = h.Sum64()
	}
	return d
}

// errPageSame is what the transport answers, in place of a response, a
// list request whose answer is the one a probe expected.
var errPageSame = errors.New("thread list page unchanged since a walk that found nothing on it")

// listProbe rides on the context of one ListThreads call. The transport
// fills in the digest of the call's first successful answer, and, when it
// is the one expected, refuses to hand it on: the provider's error then
// tells the walk that the page is the remembered one.
type listProbe struct {
	want     *digest
	requests int
	got      digest
	hit      bool
}

type probeKey struct{}

func probeFrom(ctx context.Context) *listProbe {
	p, _ := ctx.Value(probeKey{}).(*listProbe)
	return p
}

// observe is called by the transport with each successful answer of the
// probed call; a non-nil error replaces the answer.
func (p *listProbe) observe(req *http.Request, body []byte) error {
	p.requests++
	if p.requests > 1 {
		return nil
	}
	p.got = digestOf(req, body)
	if p.want != nil && *p.want == p.got {
		p.hit = true
		return errPageSame
	}
	return nil
}

// valid says whether entries recorded before still hold for a walk under
// lease that read cursor cur (committed at at), dropping them if not.
func (s *samePages) valid(lease string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lease != lease || !s.at.Equal(at) {
		s.pages, s.lease, s.at = nil, lease, at
	}
}

// drop forgets every entry.
func (s *samePages) drop() {
	s.mu.Lock()
	s.pages = nil
	s.mu.Unlock()
}

// committed records the cursor time this runner just wrote.
func (s *samePages) committed(at time.Time) {
	s.mu.Lock()
	s.at = at
	s.mu.Unlock()
}

func (s *samePages) lookup(k pageKey) *samePage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return nil
	}
	return s.pages[k]
}

func (s *samePages) record(k pageKey, p *samePage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		s.pages = map[pageKey]*samePage{}
	}
	s.pages[k] = p
}

// list asks the provider for a page, skipping its decoding and diffing
// when the answer is one remembered. A page read in full carries its
// digest, for page to remember should it yield nothing.
func (r *runner) list(ctx context.Context, q Query) (Page, error) {
	k := keyOfQuery(q)
	known := r.same.lookup(k)
	probe := &listProbe{}
	if known != nil {
		probe.want = &known.digest
	}
	page, err := r.provider.ListThreads(context.WithValue(ctx, probeKey{}, probe), q)
	switch {
	case probe.hit && errors.Is(err, errPageSame):
		return Page{Next: known.next, State: known.state, Drift: known.drift, same: known}, nil
	case probe.hit && err != nil:
		// The provider did not pass the transport's answer on as it is:
		// skipping is off for the account, and the page is asked for
		// again, to be read in full.
		r.log.Warn("provider does not pass transport errors on; unchanged pages are read in full", "error", err)
		r.same.mu.Lock()
		r.same.off = true
		r.same.mu.Unlock()
		return r.provider.ListThreads(ctx, q)
	case err == nil && probe.requests == 1:
		page.key, page.digest = k, &probe.got
	}
	return page, err
}

// remember keeps a page that yielded nothing, for the next walk to skip
// while it stays the same. ids are the page's thread ids as listed.
func (r *runner) remember(page *Page, high time.Time, threads int) {
	if page.digest == nil {
		return
	}
	p := &samePage{digest: *page.digest, next: page.Next, state: page.State, drift: page.Drift, high: high, threads: threads}
	if r.features.OffsetPagination {
		p.ids = make([]uint64, len(page.Items))
		for i := range page.Items {
			p.ids[i] = maphash.String(idSeed, page.Items[i].Thread.ID)
		}
	}
	r.same.record(page.key, p)
}
