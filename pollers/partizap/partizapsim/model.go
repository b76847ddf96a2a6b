package partizapsim

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// Sender is who writes a message.
type Sender int

// The two sides of a Partizap conversation. The zero Sender is deliberately
// invalid, so a forgotten argument is caught.
const (
	// Buyer is the other side: the user who asks about the vendor's product.
	Buyer Sender = iota + 1
	// Vendor is the account owner.
	Vendor
)

// String names the sender.

func (s Sender) String() string { return sim.Name("Sender", int(s), "", "buyer", "vendor") }

// NewThread describes a conversation for AddThread. Every field is optional.
type NewThread struct {
	// Buyer is the other participant's display name; default "Buyer <n>".
	// The same name in several conversations of a vendor is the same user.
	Buyer string
	// Product is the title of the vendor's product the conversation is
	// about; default one from a list of car parts. The same title is the
	// same product.
	Product string
	// Price is the product's price in whole roubles; default 2500.
	Price int
	// At is the creation time; zero means now (see AddMessage about times).
	At time.Time
}

// ThreadInfo is the ground truth about a conversation, for assertions.
type ThreadInfo struct {
	ID                   int64
	ProductID            int64
	Product              string
	BuyerID              int64
	Buyer                string
	CreatedAt, UpdatedAt time.Time
	UnreadCount          int
	// ReplyNeededSince is the time of the oldest buyer message after the
	// vendor's last one (the rule threadsync derives); nil when the vendor
	// has the last word or nobody wrote yet.
	ReplyNeededSince *time.Time
	Messages         []MessageInfo // oldest first
}

// MessageInfo is the ground truth about a message.
type MessageInfo struct {
	ID       int64
	At       time.Time
	From     Sender
	SenderID int64
	// Direction is "inbound" (the buyer) or "outbound" (the vendor), the
	// way threadsync's events name it.
	Direction string
	Text      string
	ImageURL  string
}

var (
	errUnknownConv = errors.New("partizapsim: unknown conversation")
	errBadSender   = errors.New("partizapsim: invalid sender")
)

// user is a Partizap user as the API shows it; its JSON never changes.
type user struct {
	id   int64
	name string
	json []byte
}

type product struct {
	id    int64
	title string
	json  []byte
}

// message is immutable once appended, except for what is_read derives from
// the conversation's read marks, which is why its JSON is kept in two parts.
type message struct {
	id       int64
	sender   int64
	outbound bool
	text     string
	imageURL string
	at       time.Time
	pre      []byte // from '{' to `"is_read":`
	post     []byte // from `,"is_delivered"` to '}'
}

// conv is guarded by its vendor's mu.
type conv struct {
	id          int64
	product     *product
	buyer       *user
	created     time.Time
	createdJSON []byte
	updated     time.Time
	updNs       int64 // updated as UnixNano: the index compares it a lot
	updatedJSON []byte
	msgs        []*message // append-only, in id order
	// vendorRead and buyerRead: msgs[:n] are read by that side.
	vendorRead, buyerRead int
	unread                int // buyer messages the vendor has not read
	indexed               bool
}

type vendor struct {
	id   int64
	user *user

	sync.RWMutex // guards what follows
	convs        map[int64]*conv
	// byID holds the conversations in creation order, for Threads.
	byID []*conv
	// index holds every conversation sorted by (updated_at, id) ascending:
	// the list order read from one end or the other.
	index sim.Index[int64, *conv]
	// pending holds the conversations whose last message is the buyer's,
	// for Traffic.
	pending  sim.Set[*conv]
	buyers   map[string]*user
	products map[string]*product
	seq      int // generated names
	// stamps times new events: strictly increasing when taken from the
	// clock, so the list order follows the order of events.
	stamps sim.Stamps
}

func (s *Server) newVendor(id int64) *vendor {
	v := &vendor{
		id:       id,
		convs:    make(map[int64]*conv),
		buyers:   make(map[string]*user),
		products: make(map[string]*product),
		index:    sim.Index[int64, *conv]{Key: func(c *conv) (int64, int64) { return c.updNs, c.id }},
		stamps:   sim.Stamps{Unit: time.Microsecond},
	}
	v.user = s.newUser(id, "Vendor "+strconv.FormatInt(id, 10), 127, 342, time.Date(2022, 6, 1, 7, 0, 0, 0, time.UTC))
	return v
}

// key is the Kit's name of a vendor (or any id): its decimal form.
func key(id int64) string { return strconv.FormatInt(id, 10) }

func (s *Server) mustVendor(userID int64) *vendor { return s.vendors.Must(key(userID)) }

func (v *vendor) mustConv(id int64) *conv {
	c := v.convs[id]
	if c == nil {
		panic(fmt.Errorf("%w %d of vendor %d", errUnknownConv, id, v.id))
	}
	return c
}

// setUpdated moves c in the index to its new updated_at. Conversations not
// indexed yet (Seed builds them in bulk and sorts once) only get their new
// time.
func (s *Server) setUpdated(v *vendor, c *conv, at time.Time) {
	if c.indexed {
		v.index.Remove(c)
	}
	c.updated, c.updNs, c.updatedJSON = at, at.UnixNano(), s.timeJSON(at)
	if c.indexed {
		v.index.Insert(c)
	}
}

func (v *vendor) insert(c *conv) {
	v.index.Insert(c)
	c.indexed = true
}

func (s *Server) buyer(v *vendor, name string) *user {
	u := v.buyers[name]
	if u == nil {
		u = s.newUser(s.userSeq.Add(1), name, 0, 0, time.Date(2023, 11, 11, 5, 0, 0, 0, time.UTC))
		v.buyers[name] = u
	}
	return u
}

var productTitles = []string{
	"BMW E46 front bumper", "BMW E39 headlight, left", "Audi A4 B8 steering rack",
	"VW Golf VII alternator", "Toyota Camry XV70 radiator", "Ford Focus III gearbox",
	"Lada Vesta door, front right", "Kia Rio IV rear lights", "Hyundai Solaris II hood",
	"Mercedes W211 air suspension strut",
}

func (s *Server) product(v *vendor, title string, price int) *product {
	p := v.products[title]
	if p == nil {
		if price <= 0 {
			price = 2500
		}
		p = s.newProduct(v, s.productSeq.Add(1), title, price)
		v.products[title] = p
	}
	return p
}

// newConv builds a conversation without putting it in the index. Call with
// v.mu held.
func (s *Server) newConv(v *vendor, in NewThread, at time.Time) *conv {
	v.seq++
	if in.Buyer == "" {
		in.Buyer = "Buyer " + strconv.Itoa(v.seq)
	}
	if in.Product == "" {
		in.Product = productTitles[(v.seq-1)%len(productTitles)]
	}
	c := &conv{
		id:          s.convSeq.Add(1),
		product:     s.product(v, in.Product, in.Price),
		buyer:       s.buyer(v, in.Buyer),
		created:     at,
		createdJSON: s.timeJSON(at),
	}
	s.setUpdated(v, c, at)
	v.convs[c.id] = c
	v.byID = append(v.byID, c)
	return c
}

// appendMessage adds a message and updates everything that depends on it:
// updated_at (and so the conversation's place in the list), read marks,
// unread_count, the pending set. Call with v.mu held.
func (s *Server) appendMessage(v *vendor, c *conv, from Sender, text, imageURL string, at time.Time) (*message, error) {
	var senderID int64
	switch from {
	case Buyer:
		senderID = c.buyer.id
	case Vendor:
		senderID = v.id
	default:
		return nil, errBadSender
	}
	at = v.stamps.Next(at, s.now)
	m := &message{
		id: s.msgSeq.Add(1), sender: senderID, outbound: from == Vendor,
		text: text, imageURL: imageURL, at: at,
	}
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

// isRead is the message's is_read: read by the side that did not write it.
func (c *conv) isRead(i int) bool {
	if c.msgs[i].outbound {
		return i < c.buyerRead
	}
	return i < c.vendorRead
}

func (c *conv) info(v *vendor) ThreadInfo {
	ti := ThreadInfo{
		ID: c.id, ProductID: c.product.id, Product: c.product.title,
		BuyerID: c.buyer.id, Buyer: c.buyer.name,
		CreatedAt: c.created, UpdatedAt: c.updated, UnreadCount: c.unread,
		Messages: make([]MessageInfo, len(c.msgs)),
	}
	var since time.Time
	for i, m := range c.msgs {
		mi := MessageInfo{ID: m.id, At: m.at, From: Buyer, SenderID: m.sender, Direction: string(sim.Direction(m.outbound)), Text: m.text, ImageURL: m.imageURL}
		if m.outbound {
			mi.From, since = Vendor, time.Time{}
		} else if since.IsZero() {
			since = m.at
		}
		ti.Messages[i] = mi
	}
	if !since.IsZero() {
		ti.ReplyNeededSince = &since
	}
	return ti
}

// AddThread creates a conversation without messages in the vendor's inbox
// and returns its id. It panics if the vendor is unknown: that is a mistake
// in the test.
func (s *Server) AddThread(userID int64, in NewThread) int64 {
	return sim.Edit(&s.vendors, key(userID), func(v *vendor) int64 {
		c := s.newConv(v, in, v.stamps.Next(in.At, s.now))
		v.insert(c)
		return c.id
	})
}

// AddMessage appends a text message to a conversation and returns the
// message's id. The conversation's updated_at becomes the message's time,
// which moves it in the list order; last_message, unread_count and the read
// marks follow the sender.
//
// A zero at means now by Config.Now, made strictly later than any time the
// vendor handed out before, so two calls never share an instant (though
// they may share a second on the wire). An explicit at is used as given;
// keep explicit times increasing if the order matters to the test.
//
// AddMessage panics if the vendor or conversation is unknown or the sender
// is invalid: all mistakes in the test's setup.
func (s *Server) AddMessage(userID, convID int64, from Sender, text string, at time.Time) int64 {
	return s.AddImageMessage(userID, convID, from, text, "", at)
}

// AddImageMessage is AddMessage with an image attachment (image_url); text
// may be empty, as it is for images sent through the API.
func (s *Server) AddImageMessage(userID, convID int64, from Sender, text, imageURL string, at time.Time) int64 {
	return sim.Edit(&s.vendors, key(userID), func(v *vendor) int64 {
		m, err := s.appendMessage(v, v.mustConv(convID), from, text, imageURL, at)
		if err != nil {
			panic(err)
		}
		return m.id
	})
}

// MarkRead records that the vendor read the conversation: unread_count
// drops to 0, the buyer's messages become is_read, and updated_at moves
// (partizap.md does not say whether reads touch it; a poller must not
// mistake a read for news). It panics on an unknown vendor or conversation.
func (s *Server) MarkRead(userID, convID int64, at time.Time) {
	sim.Edit(&s.vendors, key(userID), func(v *vendor) error { s.markRead(v, v.mustConv(convID), at); return nil })
}

func (s *Server) markRead(v *vendor, c *conv, at time.Time) {
	c.vendorRead, c.unread = len(c.msgs), 0
	s.setUpdated(v, c, v.stamps.Next(at, s.now))
}

// Threads returns the ground truth of a vendor's inbox in creation order
// (conversation id), or nil for an unknown vendor.
func (s *Server) Threads(userID int64) []ThreadInfo {
	out, _ := sim.View(&s.vendors, key(userID), func(v *vendor) []ThreadInfo {
		out := make([]ThreadInfo, len(v.byID))
		for i, c := range v.byID {
			out[i] = c.info(v)
		}
		return out
	})
	return out
}

// Thread returns the ground truth of one conversation.
func (s *Server) Thread(userID, convID int64) (ThreadInfo, bool) {
	return sim.Lookup(&s.vendors, key(userID), func(v *vendor) (ThreadInfo, bool) {
		c := v.convs[convID]
		if c == nil {
			return ThreadInfo{}, false
		}
		return c.info(v), true
	})
}
