package miraklsim

import (
	"math/rand/v2"
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

// Seed bulk-creates threads in a shop, laid out from start (zero: ending
// now) as sim.Seed lays out history: customer and shop alternate, the
// customer first, and every third thread ends with the customer, so that
// with an even count some threads still need a reply (and show the
// first-versus-latest difference of shop_reply_needed_since). One thread
// in ten is about an offer (MMP_OFFER), the others about orders
// (MMP_ORDER). The index is sorted once at the end: 20,000 threads of 5
// messages take about 0.15 s. It panics on an unknown shop.
func (s *Server) Seed(shopID string, threads, messagesPerThread int, start time.Time) {
	sh := s.shops.Must(shopID)
	sh.Lock()
	defer sh.Unlock()
	created := make([]*thread, 0, max(threads, 0))
	sim.Seed(start, s.now(), threads, min(messagesPerThread, MaxMessagesPerThread), time.Microsecond, func(i int, at time.Time) {
		in := NewThread{EntityType: "MMP_ORDER", Customer: customerNames[i%len(customerNames)] + " #" + strconv.Itoa(i+1)}
		if i%10 == 9 {
			in.EntityType = "MMP_OFFER"
			in.EntityID = "OFFER-" + sh.id + "-" + strconv.Itoa(sh.seq+1)
		}
		created = append(created, s.newThread(sh, in, sh.stamps.Next(at, s.now)))
	}, func(i, j int, answer bool, at time.Time) {
		from, body := Customer, customerBodies[(i+j)%len(customerBodies)]
		if answer {
			from, body = Shop, shopBodies[(i+j)%len(shopBodies)]
		}
		// Cannot fail: at most MaxMessagesPerThread messages, and seeded
		// threads have a customer.
		_, _ = s.appendMessage(sh, created[i], from, body, nil, nil, at)
	})
	for _, t := range created {
		t.indexed = true
	}
	sh.index.Append(created...)
	sh.index.Sort()
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
	p, name, cbody, sbody, offer := rnd.Float64(), sim.Pick(rnd, customerNames), sim.Pick(rnd, customerBodies), sim.Pick(rnd, shopBodies), rnd.IntN(10) == 0
	return sim.Step(sh, p, func() bool { return sh.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := sh.stamps.Next(time.Time{}, s.now)
		in := NewThread{EntityType: "MMP_ORDER", Customer: name}
		if offer {
			in.EntityType = "MMP_OFFER"
			in.EntityID = "OFFER-" + sh.id + "-" + strconv.Itoa(sh.seq+1)
		}
		t := s.newThread(sh, in, at)
		sh.insert(t)
		_, _ = s.appendMessage(sh, t, Customer, cbody, nil, nil, at)
		return true
	}}, sim.Event{Name: actCustomer, Share: 0.45, Do: func() bool {
		t := sh.index.At(rnd.IntN(sh.index.Len()))
		from := Customer
		if t.customer == nil {
			from = Operator
		}
		_, err := s.appendMessage(sh, t, from, cbody, nil, nil, time.Time{})
		return err == nil // else the thread is full
	}}, sim.Event{Name: actShopAnswer, Share: 0.35, Do: func() bool {
		if sh.pending.Len() == 0 {
			return false
		}
		_, err := s.appendMessage(sh, sh.pending.At(rnd.IntN(sh.pending.Len())), Shop, sbody, nil, nil, time.Time{})
		return err == nil
	}})
}
