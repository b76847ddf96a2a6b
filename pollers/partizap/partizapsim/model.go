package partizapsim

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Sender is who writes a message; the zero Sender is invalid.
type Sender int

// The two sides of a Partizap conversation.
const (
	Buyer  Sender = iota + 1 // the user who asks about the vendor's product
	Vendor                   // the account owner
)

// String names the sender.
func (s Sender) String() string { return sim.Name("Sender", int(s), "", "buyer", "vendor") }

// NewThread describes a conversation; every field is optional, a name one user throughout.
type NewThread struct {
	Buyer   string    // default "Buyer <n>"
	Product string    // default one of a list of car parts
	Price   int       // whole roubles, default 2500
	At      time.Time // the creation time; zero means now
}

// ThreadInfo is the ground truth about a conversation.
type ThreadInfo struct {
	ID, ProductID        int64
	Product              string
	BuyerID              int64
	Buyer                string
	CreatedAt, UpdatedAt time.Time
	UnreadCount          int
	// ReplyNeededSince is the oldest buyer message since the vendor's last, as threadsync derives it.
	ReplyNeededSince *time.Time
	Messages         []MessageInfo // oldest first
}

// MessageInfo is the ground truth about a message.
type MessageInfo struct {
	ID                        int64
	At                        time.Time
	From                      Sender
	SenderID                  int64
	Direction, Text, ImageURL string
}

type (
	// user is a Partizap user as the API shows it; its JSON never changes.
	user struct {
		id   int64
		name string
		json []byte
	}
	product struct {
		id    int64
		title string
		json  []byte
	}
	// message is immutable but for is_read, which the read marks give: hence its JSON in two parts.
	message struct {
		id, sender     int64
		outbound       bool
		text, imageURL string
		at             time.Time
		pre            []byte // from '{' to `"is_read":`
		post           []byte // from `,"is_delivered"` to '}'
	}
	// conv is guarded by its vendor's lock.
	conv struct {
		id                       int64
		product                  *product
		buyer                    *user
		created, updated         time.Time
		updNs                    int64 // the index key
		createdJSON, updatedJSON []byte
		msgs                     []*message // append-only, in id order
		// msgs[:vendorRead] and msgs[:buyerRead] are read by either side.
		vendorRead, buyerRead, unread int
	}
	vendor struct {
		id   int64
		user *user

		sync.RWMutex // guards what follows
		convs        map[int64]*conv
		byID         []*conv                 // creation order, for Threads
		index        sim.Index[int64, *conv] // by (updated_at, id), read from either end
		pending      sim.Set[*conv]          // the buyer wrote last
		buyers       map[string]*user
		products     map[string]*product
		seq          int // generated names
		stamps       sim.Stamps
	}
)

func (s *Server) newVendor(id int64) *vendor {
	v := &vendor{
		id: id, convs: make(map[int64]*conv), buyers: make(map[string]*user), products: make(map[string]*product),
		index:  sim.Index[int64, *conv]{Key: func(c *conv) (int64, int64) { return c.updNs, c.id }},
		stamps: sim.Stamps{Unit: time.Microsecond},
	}
	v.user = s.newUser(id, "Vendor "+strconv.FormatInt(id, 10), 127, 342, time.Date(2022, 6, 1, 7, 0, 0, 0, time.UTC))
	return v
}

// key is the Kit's name of a vendor, or any id: its decimal form.
func key(id int64) string { return strconv.FormatInt(id, 10) }

func (v *vendor) mustConv(id int64) *conv {
	c := v.convs[id]
	if c == nil {
		panic(fmt.Errorf("partizapsim: unknown conversation %d of vendor %d", id, v.id))
	}
	return c
}

func (s *Server) setUpdated(v *vendor, c *conv, at time.Time) {
	v.index.Move(c, func() { c.updated, c.updNs, c.updatedJSON = at, at.UnixNano(), s.timeJSON(at) })
}

func (s *Server) buyer(v *vendor, name string) *user {
	return sim.Intern(v.buyers, name, func() *user {
		return s.newUser(s.userSeq.Add(1), name, 0, 0, time.Date(2023, 11, 11, 5, 0, 0, 0, time.UTC))
	})
}

var productTitles = []string{
	"BMW E46 front bumper", "BMW E39 headlight, left", "Audi A4 B8 steering rack", "VW Golf VII alternator",
	"Toyota Camry XV70 radiator", "Ford Focus III gearbox", "Lada Vesta door, front right", "Kia Rio IV rear lights",
	"Hyundai Solaris II hood", "Mercedes W211 air suspension strut",
}

func (s *Server) product(v *vendor, title string, price int) *product {
	return sim.Intern(v.products, title, func() *product { return s.newProduct(v, s.productSeq.Add(1), title, cmp.Or(max(price, 0), 2500)) })
}

// newConv builds a conversation, not indexed yet. Call with v locked.
func (s *Server) newConv(v *vendor, in NewThread, at time.Time) *conv {
	v.seq++
	in.Buyer = cmp.Or(in.Buyer, "Buyer "+strconv.Itoa(v.seq))
	in.Product = cmp.Or(in.Product, productTitles[(v.seq-1)%len(productTitles)])
	c := &conv{
		id: s.convSeq.Add(1), product: s.product(v, in.Product, in.Price), buyer: s.buyer(v, in.Buyer),
		created: at, createdJSON: s.timeJSON(at),
	}
	s.setUpdated(v, c, at)
	v.convs[c.id] = c
	v.byID = append(v.byID, c)
	return c
}

// appendMessage adds a message. Call with v locked.
func (s *Server) appendMessage(v *vendor, c *conv, from Sender, text, imageURL string, at time.Time) (*message, error) {
	var senderID int64
	switch from {
	case Buyer:
		senderID = c.buyer.id
	case Vendor:
		senderID = v.id
	default:
		return nil, errors.New("partizapsim: invalid sender")
	}
	at = v.stamps.Next(at, s.now)
	m := &message{id: s.msgSeq.Add(1), sender: senderID, outbound: from == Vendor, text: text, imageURL: imageURL, at: at}
	s.encodeMessage(m, c.id)
	c.msgs = append(c.msgs, m)
	// Writing in a conversation means having read it.
	if m.outbound {
		c.vendorRead, c.unread = len(c.msgs), 0
	} else {
		c.buyerRead = len(c.msgs)
		c.unread++
	}
	v.pending.Put(c, !m.outbound)
	s.setUpdated(v, c, at)
	return m, nil
}

// isRead is message i's is_read: read by the side that did not write it.
func (c *conv) isRead(i int) bool { return i < sim.If(c.msgs[i].outbound, c.buyerRead, c.vendorRead) }

func (c *conv) info() ThreadInfo {
	ti := ThreadInfo{
		ID: c.id, ProductID: c.product.id, Product: c.product.title, BuyerID: c.buyer.id, Buyer: c.buyer.name,
		CreatedAt: c.created, UpdatedAt: c.updated, UnreadCount: c.unread,
	}
	var since time.Time
	ti.Messages = sim.Map(c.msgs, func(m *message) MessageInfo {
		mi := MessageInfo{ID: m.id, At: m.at, From: Buyer, SenderID: m.sender, Direction: string(sim.Direction(m.outbound)), Text: m.text, ImageURL: m.imageURL}
		if m.outbound {
			mi.From, since = Vendor, time.Time{}
		} else if since.IsZero() {
			since = m.at
		}
		return mi
	})
	if !since.IsZero() {
		ti.ReplyNeededSince = &since
	}
	return ti
}

// AddThread creates a conversation; it panics on an unknown vendor.
func (s *Server) AddThread(userID int64, in NewThread) int64 {
	return sim.Edit(&s.vendors, key(userID), func(v *vendor) int64 {
		c := s.newConv(v, in, v.stamps.Next(in.At, s.now))
		v.index.Insert(c)
		return c.id
	})
}

// AddMessage appends a text message at at (zero: now) and returns its id.
func (s *Server) AddMessage(userID, convID int64, from Sender, text string, at time.Time) int64 {
	return sim.Edit(&s.vendors, key(userID), func(v *vendor) int64 {
		return sim.Must(s.appendMessage(v, v.mustConv(convID), from, text, "", at)).id
	})
}

// MarkRead records that the vendor read the conversation, which moves updated_at: partizap.md
// does not say, and a poller must not take a read for news.
func (s *Server) MarkRead(userID, convID int64, at time.Time) {
	sim.Edit(&s.vendors, key(userID), func(v *vendor) error { s.markRead(v, v.mustConv(convID), at); return nil })
}

func (s *Server) markRead(v *vendor, c *conv, at time.Time) {
	c.vendorRead, c.unread = len(c.msgs), 0
	s.setUpdated(v, c, v.stamps.Next(at, s.now))
}

// Threads is the vendor's inbox in creation order.
func (s *Server) Threads(userID int64) []ThreadInfo {
	out, _ := sim.View(&s.vendors, key(userID), func(v *vendor) []ThreadInfo { return sim.Map(v.byID, (*conv).info) })
	return out
}

// Thread returns the ground truth of one conversation.
func (s *Server) Thread(userID, convID int64) (ThreadInfo, bool) {
	return sim.Find(&s.vendors, key(userID), func(v *vendor) *conv { return v.convs[convID] }, (*conv).info)
}

// Truth gives times as precise as Config.TimeLayout, as a client knows them.
func (s *Server) Truth(vendorID string) []sim.Thread {
	return sim.Truth(s.Threads(s.vendorID(vendorID)), func(t ThreadInfo) (string, bool, []MessageInfo) { return key(t.ID), false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) {
			at, err := time.Parse(s.layout, m.At.UTC().Format(s.layout))
			if err != nil {
				panic(fmt.Sprintf("partizapsim: message %d: time %v in layout %q: %v", m.ID, m.At, s.layout, err))
			}
			return key(m.ID), m.Direction, at
		})
}

// Seed bulk-creates conversations from start (zero: ending now) by sim.Seed; it panics on an unknown vendor.
func (s *Server) Seed(userID int64, threads, messagesPerThread int, start time.Time) {
	v := s.vendors.Must(key(userID))
	v.Lock()
	defer v.Unlock()
	created := sim.Seed(start, s.now(), threads, messagesPerThread, time.Microsecond, nil, func(i int, at time.Time) *conv {
		in := NewThread{Buyer: script.Names[i%len(script.Names)] + " #" + strconv.Itoa(i+1)}
		return s.newConv(v, in, v.stamps.Next(at, s.now))
	}, func(c *conv, i, j int, answer bool, at time.Time) {
		_, _ = s.appendMessage(v, c, sim.If(answer, Vendor, Buyer), script.Line(i, j, answer), "", at) // from is valid
	})
	v.index.Append(created...)
	v.index.Sort()
}

// Fill is Seed ending now.
func (s *Server) Fill(vendorID string, threads, perThread int) {
	s.Seed(s.vendorID(vendorID), threads, perThread, time.Time{})
}

// Traffic makes the inbox live: 20% of events open a conversation, 40% are the buyer's, 30%
// answers, 10% reads.
func (s *Server) Traffic(ctx context.Context, vendorID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.vendors, ctx, vendorID, perSecond, rnd, s.trafficStep)
}

// Traffic actions, as trafficStep reports them.
const actNone, actNewThread, actBuyer, actVendorAnswer, actRead = sim.None, sim.NewThread, "buyer_message", "vendor_answer", "vendor_read"

func (s *Server) trafficStep(v *vendor, rnd *rand.Rand) string {
	p, name, btext, vtext, title := rnd.Float64(), sim.Pick(rnd, script.Names), sim.Pick(rnd, script.In), sim.Pick(rnd, script.Out), sim.Pick(rnd, productTitles)
	write := func(c *conv, from Sender, text string) bool {
		_, _ = s.appendMessage(v, c, from, text, "", time.Time{})
		return true
	}
	return sim.Step(v, p, func() bool { return v.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := v.stamps.Next(time.Time{}, s.now)
		c := s.newConv(v, NewThread{Buyer: name, Product: title}, at)
		v.index.Insert(c)
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

// script is what the people of seeded and live traffic say.
var script = sim.Script{
	Names: []string{"Ivan", "Olga", "Sergey P.", "Anna K.", "Dmitry", "Elena V.", "Pavel", "Natalia", "Alexey M.", "Irina", "Maxim", "Tatiana S."},
	In:    []string{"Is it original?", "Is it still available?", "Can you ship it to Kazan?", "What is the last price?", "Does it fit a 2008 model?", "Can I pick it up today?"},
	Out:   []string{"Yes, original, removed from a car in good condition.", "Available, you can pick it up tomorrow.", "We ship by SDEK, 2-3 days.", "The price is final, sorry.", "It fits 2005-2012 models."},
}
