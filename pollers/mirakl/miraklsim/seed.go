package miraklsim

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
	customerNames = []string{
		"Anna K.", "John D.", "Marta W.", "Luca B.", "Sofia R.", "Jan N.",
		"Emma L.", "Piotr S.", "Chloé M.", "Diego F.", "Ines P.", "Tom H.",
	}
	customerBodies = []string{
		"Where is my parcel?",
		"Could you send me the tracking number please?",
		"The item arrived damaged, what can I do?",
		"Is this still available in blue?",
		"I would like to return the product.",
		"Can you confirm the delivery date?",
	}
	shopBodies = []string{
		"Thank you for your message, we are looking into it.",
		"Your parcel left our warehouse yesterday.",
		"We have sent you a return label by e-mail.",
		"Sorry for the trouble, a replacement is on its way.",
		"The tracking number is in your order page.",
	}
)

// Seed bulk-creates threads in a shop, thread after thread, each with
// messagesPerThread messages alternating customer and shop, starting with the
// customer. Every third thread ends with a customer message whatever the
// alternation gives, so that with an even count some threads still need a
// reply (and show the first-versus-latest difference of
// shop_reply_needed_since). One thread in ten is about an offer (MMP_OFFER),
// the others about orders (MMP_ORDER).
//
// Messages are one second apart from start, or closer when that is needed to
// keep the last one no later than Config.Now, so that seeded history stays
// behind the clock and later messages sort after it. A zero start means "so
// that the history ends now".
//
// Seed sorts the index once at the end instead of moving threads message by
// message: 20,000 threads of 5 messages take about 0.15 s. It panics on an
// unknown shop.
func (s *Server) Seed(shopID string, threads, messagesPerThread int, start time.Time) {
	sh := s.mustShop(shopID)
	if threads <= 0 {
		return
	}
	mpt := min(max(messagesPerThread, 0), MaxMessagesPerThread)
	start, step := sim.Spread(start, s.now(), int64(threads)*int64(max(mpt, 1)), time.Microsecond)

	sh.mu.Lock()
	defer sh.mu.Unlock()
	created := make([]*thread, 0, threads)
	var k int64
	for i := range threads {
		in := NewThread{EntityType: "MMP_ORDER", Customer: customerNames[i%len(customerNames)] + " #" + strconv.Itoa(i+1)}
		if i%10 == 9 {
			in.EntityType = "MMP_OFFER"
			in.EntityID = "OFFER-" + sh.id + "-" + strconv.Itoa(sh.seq+1)
		}
		t := s.newThread(sh, in, sh.stamps.Next(start.Add(time.Duration(k)*step), s.now))
		created = append(created, t)
		for j := range mpt {
			from, body := Customer, customerBodies[(i+j)%len(customerBodies)]
			if sim.SeedAnswer(i, j, mpt) {
				from, body = Shop, shopBodies[(i+j)%len(shopBodies)]
			}
			// Cannot fail: at most MaxMessagesPerThread messages, and seeded
			// threads have a customer.
			_, _ = s.appendMessage(sh, t, from, body, nil, nil, start.Add(time.Duration(k)*step))
			k++
		}
		if mpt == 0 {
			k++
		}
	}
	sh.index = append(sh.index, created...)
	for _, t := range created {
		t.indexed = true
	}
	sortIndex(sh.index)
}

func sortIndex(idx []*thread) {
	cmp := func(a, b *thread) int { return cmpKey(a.updNs, a.id, b.updNs, b.id) }
	// Usually already sorted (seeded times increase): then one linear pass.
	if !slices.IsSortedFunc(idx, cmp) {
		slices.SortFunc(idx, cmp)
	}
}

// Traffic makes the shop's inbox live until ctx is done, at perSecond events
// per second, like a marketplace: about 20% of events are a customer opening a
// thread with a first message, 45% a customer writing in an existing thread,
// 35% the shop answering a thread that awaits its reply (nothing happens when
// none does). Messages take their times from Config.Now; pacing follows the
// wall clock. rnd drives every choice, so a seeded rnd gives a reproducible
// sequence of actions; nil means a randomly seeded one. Traffic returns nil
// when ctx is done, and an error for an unknown shop or a rate that is not
// positive.
func (s *Server) Traffic(ctx context.Context, shopID string, perSecond float64, rnd *rand.Rand) error {
	sh, err := s.shop(shopID)
	if err != nil {
		return err
	}
	rnd = sim.Rand(rnd)
	if err := sim.Pace(ctx, perSecond, func() { s.trafficStep(sh, rnd) }); err != nil {
		return fmt.Errorf("miraklsim: Traffic: %w", err)
	}
	return nil
}

// traffic actions, as trafficStep reports them.
const (
	actNone       = ""
	actNewThread  = "new_thread"
	actCustomer   = "customer_message"
	actShopAnswer = "shop_answer"
)

// trafficStep performs one Traffic event.
func (s *Server) trafficStep(sh *shop, rnd *rand.Rand) string {
	p := rnd.Float64()
	name := customerNames[rnd.IntN(len(customerNames))]
	cbody := customerBodies[rnd.IntN(len(customerBodies))]
	sbody := shopBodies[rnd.IntN(len(shopBodies))]
	offer := rnd.IntN(10) == 0

	sh.mu.Lock()
	defer func() {
		sh.mu.Unlock()
		if s.onTraffic != nil {
			s.onTraffic()
		}
	}()
	switch {
	case p < 0.20 || len(sh.index) == 0:
		at := sh.stamps.Next(time.Time{}, s.now)
		in := NewThread{EntityType: "MMP_ORDER", Customer: name}
		if offer {
			in.EntityType = "MMP_OFFER"
			in.EntityID = "OFFER-" + sh.id + "-" + strconv.Itoa(sh.seq+1)
		}
		t := s.newThread(sh, in, at)
		sh.insert(t)
		_, _ = s.appendMessage(sh, t, Customer, cbody, nil, nil, at)
		return actNewThread
	case p < 0.65:
		t := sh.index[rnd.IntN(len(sh.index))]
		from := Customer
		if t.customer == nil {
			from = Operator
		}
		if _, err := s.appendMessage(sh, t, from, cbody, nil, nil, time.Time{}); err != nil {
			return actNone // the thread is full
		}
		return actCustomer
	default:
		if len(sh.pending) == 0 {
			return actNone
		}
		t := sh.pending[rnd.IntN(len(sh.pending))]
		if _, err := s.appendMessage(sh, t, Shop, sbody, nil, nil, time.Time{}); err != nil {
			return actNone
		}
		return actShopAnswer
	}
}
