package partizapsim

import (
	"context"
	"math/rand/v2"
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

// Seed bulk-creates conversations in a vendor's inbox, laid out from start
// (zero: ending now) as sim.Seed lays out history: buyer and vendor
// alternate, the buyer first, and every third conversation ends with the
// buyer. Products come from a list of ten car parts. The index is sorted
// once at the end: 10,000 conversations of 4 messages take well under a
// second. It panics on an unknown vendor.
func (s *Server) Seed(userID int64, threads, messagesPerThread int, start time.Time) {
	v := s.mustVendor(userID)
	v.Lock()
	defer v.Unlock()
	var created []*conv
	sim.Seed(start, s.now(), threads, messagesPerThread, time.Microsecond, func(i int, at time.Time) {
		in := NewThread{Buyer: buyerNames[i%len(buyerNames)] + " #" + strconv.Itoa(i+1)}
		created = append(created, s.newConv(v, in, v.stamps.Next(at, s.now)))
	}, func(i, j int, answer bool, at time.Time) {
		from, text := Buyer, buyerTexts[(i+j)%len(buyerTexts)]
		if answer {
			from, text = Vendor, vendorTexts[(i+j)%len(vendorTexts)]
		}
		// Cannot fail: the sender is valid.
		_, _ = s.appendMessage(v, created[i], from, text, "", at)
	})
	for _, c := range created {
		c.indexed = true
	}
	v.index.Append(created...)
	v.index.Sort()
}

// Traffic makes the vendor's inbox (by its user id in decimal) live (see
// Kit.Live) like a parts marketplace: about 20% of events are a buyer
// opening a conversation with a first message, 40% a buyer writing in an
// existing one, 30% the vendor answering a conversation that awaits its
// reply (nothing happens when none does) and 10% the vendor reading one
// (which moves updated_at but adds no message). Messages take their times
// from Config.Now.
func (s *Server) Traffic(ctx context.Context, vendorID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.vendors, ctx, vendorID, perSecond, rnd, s.trafficStep)
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
	p, name, btext, vtext, title := rnd.Float64(), sim.Pick(rnd, buyerNames), sim.Pick(rnd, buyerTexts), sim.Pick(rnd, vendorTexts), sim.Pick(rnd, productTitles)
	write := func(c *conv, from Sender, text string) bool {
		_, _ = s.appendMessage(v, c, from, text, "", time.Time{})
		return true
	}
	return sim.Step(v, p, func() bool { return v.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := v.stamps.Next(time.Time{}, s.now)
		c := s.newConv(v, NewThread{Buyer: name, Product: title}, at)
		v.insert(c)
		_, _ = s.appendMessage(v, c, Buyer, btext, "", at)
		return true
	}}, sim.Event{Name: actBuyer, Share: 0.40, Do: func() bool {
		return write(v.index.At(rnd.IntN(v.index.Len())), Buyer, btext)
	}}, sim.Event{Name: actVendorAnswer, Share: 0.30, Do: func() bool {
		return v.pending.Len() > 0 && write(v.pending.At(rnd.IntN(v.pending.Len())), Vendor, vtext)
	}}, sim.Event{Name: actRead, Share: 0.10, Do: func() bool {
		s.markRead(v, v.index.At(rnd.IntN(v.index.Len())), time.Time{})
		return true
	}})
}
