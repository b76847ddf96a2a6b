package partizapsim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

var (
	buyerNames = []string{
		"Ivan", "Olga", "Sergey P.", "Anna K.", "Dmitry", "Elena V.",
		"Pavel", "Natalia", "Alexey M.", "Irina", "Maxim", "Tatiana S.",
	}
	buyerTexts = []string{
		"Is it original?",
		"Is it still available?",
		"Can you ship it to Kazan?",
		"What is the last price?",
		"Does it fit a 2008 model?",
		"Can I pick it up today?",
	}
	vendorTexts = []string{
		"Yes, original, removed from a car in good condition.",
		"Available, you can pick it up tomorrow.",
		"We ship by SDEK, 2-3 days.",
		"The price is final, sorry.",
		"It fits 2005-2012 models.",
	}
)

// Seed bulk-creates conversations in a vendor's inbox, one after the other,
// each with messagesPerThread messages alternating buyer and vendor,
// starting with the buyer. Every third conversation ends with a buyer
// message whatever the alternation gives, so that with an even count some
// conversations still await the vendor's reply. Products come from a list
// of ten car parts.
//
// Messages are one second apart from start, or closer when that is needed
// to keep the last one no later than Config.Now, so that seeded history
// stays behind the clock and later messages sort after it. A zero start
// means "so that the history ends now".
//
// Seed sorts the index once at the end instead of moving conversations
// message by message: 10,000 conversations of 4 messages take well under a
// second. It panics on an unknown vendor.
func (s *Server) Seed(userID int64, threads, messagesPerThread int, start time.Time) {
	v := s.mustVendor(userID)
	if threads <= 0 {
		return
	}
	mpt := max(messagesPerThread, 0)
	start, step := sim.Spread(start, s.now(), int64(threads)*int64(max(mpt, 1)), time.Microsecond)

	v.mu.Lock()
	defer v.mu.Unlock()
	created := make([]*conv, 0, threads)
	var k int64
	for i := range threads {
		in := NewThread{Buyer: buyerNames[i%len(buyerNames)] + " #" + strconv.Itoa(i+1)}
		c := s.newConv(v, in, v.stamps.Next(start.Add(time.Duration(k)*step), s.now))
		created = append(created, c)
		c.msgs = make([]*message, 0, mpt)
		for j := range mpt {
			from, text := Buyer, buyerTexts[(i+j)%len(buyerTexts)]
			if sim.SeedAnswer(i, j, mpt) {
				from, text = Vendor, vendorTexts[(i+j)%len(vendorTexts)]
			}
			// Cannot fail: the sender is valid.
			_, _ = s.appendMessage(v, c, from, text, "", start.Add(time.Duration(k)*step))
			k++
		}
		if mpt == 0 {
			k++
		}
	}
	v.index = append(v.index, created...)
	for _, c := range created {
		c.indexed = true
	}
	sortIndex(v.index)
}

func sortIndex(idx []*conv) {
	cmp := func(a, b *conv) int { return cmpKey(a.updNs, a.id, b.updNs, b.id) }
	// Usually already sorted (seeded times increase): then one linear pass.
	if !slices.IsSortedFunc(idx, cmp) {
		slices.SortFunc(idx, cmp)
	}
}

// Traffic makes the vendor's inbox live until ctx is done, at perSecond
// events per second, like a parts marketplace: about 20% of events are a
// buyer opening a conversation with a first message, 40% a buyer writing in
// an existing one, 30% the vendor answering a conversation that awaits its
// reply (nothing happens when none does) and 10% the vendor reading one
// (which moves updated_at but adds no message). Messages take their times
// from Config.Now; pacing follows the wall clock. rnd drives every choice,
// so a seeded rnd gives a reproducible sequence of actions; nil means a
// randomly seeded one. Traffic returns nil when ctx is done, and an error
// for an unknown vendor or a rate that is not positive.
func (s *Server) Traffic(ctx context.Context, userID int64, perSecond float64, rnd *rand.Rand) error {
	v, err := s.vendor(userID)
	if err != nil {
		return err
	}
	rnd = sim.Rand(rnd)
	if err := sim.Pace(ctx, perSecond, func() { s.trafficStep(v, rnd) }); err != nil {
		return fmt.Errorf("partizapsim: Traffic: %w", err)
	}
	return nil
}

// traffic actions, as trafficStep reports them.
const (
	actNone         = ""
	actNewThread    = "new_thread"
	actBuyer        = "buyer_message"
	actVendorAnswer = "vendor_answer"
	actRead         = "vendor_read"
)

// trafficStep performs one Traffic event.
func (s *Server) trafficStep(v *vendor, rnd *rand.Rand) string {
	p := rnd.Float64()
	name := buyerNames[rnd.IntN(len(buyerNames))]
	btext := buyerTexts[rnd.IntN(len(buyerTexts))]
	vtext := vendorTexts[rnd.IntN(len(vendorTexts))]
	title := productTitles[rnd.IntN(len(productTitles))]

	v.mu.Lock()
	defer func() {
		v.mu.Unlock()
		if s.onTraffic != nil {
			s.onTraffic()
		}
	}()
	switch {
	case p < 0.20 || len(v.index) == 0:
		at := v.stamps.Next(time.Time{}, s.now)
		c := s.newConv(v, NewThread{Buyer: name, Product: title}, at)
		v.insert(c)
		_, _ = s.appendMessage(v, c, Buyer, btext, "", at)
		return actNewThread
	case p < 0.60:
		c := v.index[rnd.IntN(len(v.index))]
		_, _ = s.appendMessage(v, c, Buyer, btext, "", time.Time{})
		return actBuyer
	case p < 0.90:
		if len(v.pending) == 0 {
			return actNone
		}
		c := v.pending[rnd.IntN(len(v.pending))]
		_, _ = s.appendMessage(v, c, Vendor, vtext, "", time.Time{})
		return actVendorAnswer
	default:
		c := v.index[rnd.IntN(len(v.index))]
		c.vendorRead, c.unread = len(c.msgs), 0
		s.setUpdated(v, c, v.stamps.Next(time.Time{}, s.now))
		return actRead
	}
}
