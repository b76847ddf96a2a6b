package miraklsim

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

// Mirakl's caps, and the names it writes.
const (
	// MaxMessagesPerThread is Mirakl's cap on a thread's messages (M12: 400).
	MaxMessagesPerThread = 1000
	// EntitySellerOperator is the entity type of shop↔operator threads.
	EntitySellerOperator    = "SELLER_OPERATOR"
	maxAttachmentsPerEntity = 50  // M12's, across the threads of one order or offer
	withMessagesLimit       = 100 // the newest messages of M11 with_messages=true
	// Participant types, as participants and recipients write them.
	partOperator = "OPERATOR"
	partShop     = "SHOP"
	partCustomer = "CUSTOMER"
)

// SenderType is who wrote a message; the zero SenderType is invalid.
type SenderType int

// The senders of Mirakl messages.
const (
	Customer SenderType = iota + 1
	Shop
	Operator
)

// String returns the sender type as Mirakl writes it in from.type.
func (t SenderType) String() string {
	return sim.Name("SenderType", int(t), "", "CUSTOMER_USER", "SHOP_USER", "OPERATOR_USER")
}

var (
	operatorPart   = wireParticipant{DisplayName: "Marketplace", Type: partOperator}
	operatorSender = &wireSender{DisplayName: "Marketplace", Type: Operator.String(), OrganizationDetails: &operatorPart}
)

// NewThread describes a thread for AddThread; every field is optional.
type NewThread struct {
	Topic, TopicType     string    // default "Question about <entity id>", FREE_TEXT
	EntityType, EntityID string    // default MMP_ORDER, a new order
	Customer             string    // default "Customer <n>"; a name is one customer
	At                   time.Time // the creation time; zero means now
}

// Attachment is a file's metadata; ID is generated when empty.
type Attachment struct {
	ID, Name string
	Size     int64
}

// ThreadInfo is the ground truth about a thread.
type ThreadInfo struct {
	ID, Topic, EntityType, EntityID string
	CustomerID, Customer            string // empty in SELLER_OPERATOR threads
	CreatedAt, UpdatedAt            time.Time
	ReplyNeededSince                *time.Time // shop_reply_needed_since
	Messages                        []MessageInfo
}

// MessageInfo is the ground truth about a message; Direction is "outbound" for the shop's.
type MessageInfo struct {
	ID              string
	At              time.Time
	From            SenderType
	Direction, Body string
	Attachments     []Attachment
}

var (
	errThreadFull = errors.New("miraklsim: thread has reached the maximum of 1000 messages")
	errBadSender  = errors.New("miraklsim: invalid sender type")
)

type (
	shop struct {
		id     string
		part   wireParticipant
		sender *wireSender
		toShop []wireParticipant // shared, never modified

		sync.RWMutex // guards what follows
		threads      map[string]*thread
		index        sim.Index[string, *thread] // by (date_updated, id): the M11 order
		pending      sim.Set[*thread]           // awaiting the shop's reply
		customers    map[string]string          // name -> customer id
		attachments  map[string]int             // entity -> attachments posted through M12
		seq          int                        // generated names and entity ids
		stamps       sim.Stamps
	}
	// thread is guarded by its shop's lock; what responses keep is replaced, never modified.
	thread struct {
		id                     string
		created, updated       time.Time
		updNs                  int64 // the index key
		createdStr, updatedStr string
		topic                  wireTopic
		entityType, entityID   string
		entities               []wireEntity
		customer               *wireParticipant // nil in SELLER_OPERATOR threads
		custSender             *wireSender
		authorized, current    []wireParticipant
		participated           uint8
		msgs                   []*message
		replyNeeded            time.Time // zero: no reply needed
		replyStr               *string
		noReply                []wireNoReply
		toCustomer             []wireParticipant // shared, never modified
	}
)

func newShop(id string) *shop {
	sh := &shop{
		id:          id,
		part:        wireParticipant{DisplayName: "Shop " + id, ID: id, Type: partShop},
		threads:     make(map[string]*thread),
		index:       sim.Index[string, *thread]{Key: func(t *thread) (int64, string) { return t.updNs, t.id }},
		customers:   make(map[string]string),
		attachments: make(map[string]int),
		stamps:      sim.Stamps{Unit: time.Microsecond},
	}
	sh.sender = &wireSender{DisplayName: sh.part.DisplayName, Type: Shop.String(), OrganizationDetails: &sh.part}
	sh.toShop = []wireParticipant{sh.part}
	return sh
}

// newID is a UUID-shaped id like Mirakl's, in no order, which exercises M11's id tie-break.
func (s *Server) newID() string { return sim.UUID(s.idSeq.Add(1)) }

func (sh *shop) setUpdated(t *thread, at time.Time) {
	sh.index.Move(t, func() { t.updated, t.updNs, t.updatedStr = at, at.UnixNano(), formatTime(at) })
}

// newThread builds a thread, not indexed yet. Call with sh locked.
func (s *Server) newThread(sh *shop, in NewThread, at time.Time) *thread {
	sh.seq++
	in.EntityType = cmp.Or(in.EntityType, "MMP_ORDER")
	in.EntityID = cmp.Or(in.EntityID, "ORDER-"+sh.id+"-"+strconv.Itoa(sh.seq)+"-A")
	in.Topic, in.TopicType = cmp.Or(in.Topic, "Question about "+in.EntityID), cmp.Or(in.TopicType, "FREE_TEXT")
	t := &thread{
		id: s.newID(), created: at, createdStr: formatTime(at),
		topic:      wireTopic{Type: in.TopicType, Value: in.Topic},
		entityType: in.EntityType, entityID: in.EntityID,
		entities:   []wireEntity{{ID: in.EntityID, Label: in.EntityID, Type: in.EntityType}},
		authorized: []wireParticipant{operatorPart, sh.part}, current: []wireParticipant{},
		// Never nil: M10 writes them as [].
		msgs: []*message{}, noReply: []wireNoReply{},
	}
	sh.setUpdated(t, at)
	if in.EntityType != EntitySellerOperator {
		in.Customer = cmp.Or(in.Customer, "Customer "+strconv.Itoa(sh.seq))
		id := sim.Intern(sh.customers, in.Customer, func() string { return "cust-" + sh.id + "-" + strconv.Itoa(len(sh.customers)+1) })
		cust := wireParticipant{DisplayName: in.Customer, ID: id, Type: partCustomer}
		t.customer = &cust
		t.custSender = &wireSender{DisplayName: cust.DisplayName, Type: Customer.String(), OrganizationDetails: t.customer}
		t.toCustomer = []wireParticipant{cust}
		t.authorized = append(t.authorized, cust)
	}
	sh.threads[t.id] = t
	return t
}

// joinedBit marks a participant type in thread.participated.
var joinedBit = map[string]uint8{partOperator: 1, partShop: 2, partCustomer: 4}

// defaultRecipients is who a message goes to when the caller does not say.
func (t *thread) defaultRecipients(sh *shop, from SenderType) []wireParticipant {
	switch from {
	case Customer:
		return sh.toShop
	case Shop:
		if t.customer != nil {
			return t.toCustomer
		}
		return []wireParticipant{operatorPart}
	default:
		if t.customer != nil {
			return []wireParticipant{sh.part, *t.customer}
		}
		return []wireParticipant{sh.part}
	}
}

// appendMessage adds a message (to nil: the default recipients). Call with sh locked.
func (s *Server) appendMessage(sh *shop, t *thread, from SenderType, body string, to []wireParticipant, atts []Attachment, at time.Time) (*message, error) {
	if len(t.msgs) >= MaxMessagesPerThread {
		return nil, errThreadFull
	}
	var sender *wireSender
	switch from {
	case Customer:
		if t.customer == nil {
			return nil, errors.New("miraklsim: thread has no customer participant")
		}
		sender = t.custSender
	case Shop:
		sender = sh.sender
	case Operator:
		sender = operatorSender
	default:
		return nil, errBadSender
	}
	if to == nil {
		to = t.defaultRecipients(sh, from)
	}
	at = sh.stamps.Next(at, s.now)
	m := &message{
		ID: s.newID(), DateCreated: formatTime(at), Body: body, From: sender, To: to,
		Attachments: make([]wireAttachment, len(atts)), at: at, from: from,
	}
	for i, a := range atts {
		if a.ID == "" {
			a.ID = s.newID()
		}
		m.Attachments[i] = wireAttachment(a)
	}
	t.msgs = append(t.msgs, m)
	joined := t.participated | joinedBit[sender.OrganizationDetails.Type]
	for _, p := range to {
		joined |= joinedBit[p.Type]
	}
	if joined != t.participated {
		// Replaced, not modified: responses may hold the old slice.
		t.participated = joined
		cur := make([]wireParticipant, 0, len(t.authorized))
		for _, p := range t.authorized {
			if joined&joinedBit[p.Type] != 0 {
				cur = append(cur, p)
			}
		}
		t.current = cur
	}
	if from == Shop {
		t.setReplyNeeded(time.Time{})
	} else if t.replyNeeded.IsZero() || s.cfg.ReplyNeededLatest {
		t.setReplyNeeded(at)
	}
	sh.pending.Put(t, !t.replyNeeded.IsZero())
	sh.setUpdated(t, at)
	return m, nil
}

func (t *thread) setReplyNeeded(at time.Time) {
	t.replyNeeded, t.replyStr = at, nil
	if !at.IsZero() {
		str := formatTime(at)
		t.replyStr = &str
	}
}

// wire is the thread's JSON form, with its last lastN (0: all) messages when withMessages.
func (t *thread) wire(withMessages bool, lastN int) wireThread {
	w := wireThread{
		ID: t.id, DateCreated: t.createdStr, DateUpdated: t.updatedStr, Topic: t.topic, Entities: t.entities,
		AuthorizedParticipants: t.authorized, CurrentParticipants: t.current,
		Metadata: wireMetadata{ShopReplyNeededSince: t.replyStr, TotalCount: len(t.msgs)},
	}
	if n := len(t.msgs); n > 0 {
		w.Metadata.LastMessageDate, w.Metadata.LastSender = t.msgs[n-1].DateCreated, t.msgs[n-1].From
	}
	if withMessages {
		msgs := t.msgs
		if lastN > 0 && len(msgs) > lastN {
			msgs = msgs[len(msgs)-lastN:]
		}
		// Writers append past len(msgs) and copy noReply on write.
		w.Messages = msgs[:len(msgs):len(msgs)]
		w.NoStoreReplyNeeded = t.noReply
	}
	return w
}

func (t *thread) info() ThreadInfo {
	ti := ThreadInfo{
		ID: t.id, Topic: t.topic.Value, EntityType: t.entityType, EntityID: t.entityID,
		CreatedAt: t.created, UpdatedAt: t.updated,
		Messages: sim.Map(t.msgs, func(m *message) MessageInfo {
			mi := MessageInfo{ID: m.ID, At: m.at, From: m.from, Direction: string(sim.Direction(m.from == Shop)), Body: m.Body}
			for _, a := range m.Attachments {
				mi.Attachments = append(mi.Attachments, Attachment(a))
			}
			return mi
		}),
	}
	if t.customer != nil {
		ti.CustomerID, ti.Customer = t.customer.ID, t.customer.DisplayName
	}
	if !t.replyNeeded.IsZero() {
		at := t.replyNeeded
		ti.ReplyNeededSince = &at
	}
	return ti
}

// AddThread creates a thread without messages; it panics on an unknown shop.
func (s *Server) AddThread(shopID string, in NewThread) string {
	return sim.Edit(&s.shops, shopID, func(sh *shop) string {
		t := s.newThread(sh, in, sh.stamps.Next(in.At, s.now))
		sh.index.Insert(t)
		return t.id
	})
}

// AddMessage appends a message at at (zero: now) and returns its id.
func (s *Server) AddMessage(shopID, threadID string, from SenderType, body string, at time.Time) string {
	return s.AddMessageWithAttachments(shopID, threadID, from, body, at)
}

// AddMessageWithAttachments is AddMessage with attachments.
func (s *Server) AddMessageWithAttachments(shopID, threadID string, from SenderType, body string, at time.Time, files ...Attachment) string {
	return sim.Edit(&s.shops, shopID, func(sh *shop) string {
		return sim.Must(s.appendMessage(sh, sh.mustThread(threadID), from, body, nil, files, at)).ID
	})
}

// MarkNoReplyNeeded records a "no reply needed" action of Shop or Operator.
func (s *Server) MarkNoReplyNeeded(shopID, threadID string, by SenderType, at time.Time) {
	if by != Shop && by != Operator {
		panic(errBadSender)
	}
	sim.Edit(&s.shops, shopID, func(sh *shop) error {
		t := sh.mustThread(threadID)
		at = sh.stamps.Next(at, s.now)
		// Copy on write: responses may hold the old slice.
		t.noReply = append(t.noReply[:len(t.noReply):len(t.noReply)], wireNoReply{Date: formatTime(at), UserType: map[SenderType]string{Shop: partShop, Operator: partOperator}[by]})
		t.setReplyNeeded(time.Time{})
		sh.pending.Put(t, false)
		sh.setUpdated(t, at)
		return nil
	})
}

func (sh *shop) mustThread(id string) *thread {
	t := sh.threads[id]
	if t == nil {
		panic(fmt.Errorf("miraklsim: unknown thread %q in shop %q", id, sh.id))
	}
	return t
}

// Threads is the shop's inbox in the M11 order.
func (s *Server) Threads(shopID string) []ThreadInfo {
	out, _ := sim.View(&s.shops, shopID, func(sh *shop) []ThreadInfo { return sim.Map(sh.index.Items(), (*thread).info) })
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(shopID, threadID string) (ThreadInfo, bool) {
	return sim.Find(&s.shops, shopID, func(sh *shop) *thread { return sh.threads[threadID] }, (*thread).info)
}

// Truth is the shop's threads in the M11 order.
func (s *Server) Truth(shopID string) []sim.Thread {
	return sim.Truth(s.Threads(shopID), func(t ThreadInfo) (string, bool, []MessageInfo) { return t.ID, false, t.Messages },
		func(m MessageInfo) (string, string, time.Time) { return m.ID, m.Direction, m.At })
}

// Seed bulk-creates threads from start (zero: ending now) by sim.Seed, one in ten about an offer.
func (s *Server) Seed(shopID string, threads, messagesPerThread int, start time.Time) {
	sh := s.shops.Must(shopID)
	sh.Lock()
	defer sh.Unlock()
	created := sim.Seed(start, s.now(), threads, min(messagesPerThread, MaxMessagesPerThread), time.Microsecond, nil, func(i int, at time.Time) *thread {
		return s.newThread(sh, sh.newThreadInput(script.Names[i%len(script.Names)]+" #"+strconv.Itoa(i+1), i%10 == 9), sh.stamps.Next(at, s.now))
	}, func(t *thread, i, j int, answer bool, at time.Time) {
		// Cannot fail: seeded threads have a customer and room.
		_, _ = s.appendMessage(sh, t, sim.If(answer, Shop, Customer), script.Line(i, j, answer), nil, nil, at)
	})
	sh.index.Append(created...)
	sh.index.Sort()
}

// Fill is Seed ending now.
func (s *Server) Fill(shopID string, threads, perThread int) {
	s.Seed(shopID, threads, perThread, time.Time{})
}

// Traffic makes the inbox live: 20% of events open a thread, 45% are the customer's, 35% answers.
func (s *Server) Traffic(ctx context.Context, shopID string, perSecond float64, rnd *rand.Rand) error {
	return sim.Run(s.Kit, &s.shops, ctx, shopID, perSecond, rnd, s.trafficStep)
}

// newThreadInput is a thread of customer about an order or an offer.
func (sh *shop) newThreadInput(customer string, offer bool) NewThread {
	in := NewThread{EntityType: "MMP_ORDER", Customer: customer}
	if offer {
		in.EntityType = "MMP_OFFER"
		in.EntityID = "OFFER-" + sh.id + "-" + strconv.Itoa(sh.seq+1)
	}
	return in
}

// Traffic actions, as trafficStep reports them.
const actNone, actNewThread, actCustomer, actShopAnswer = sim.None, sim.NewThread, "customer_message", "shop_answer"

func (s *Server) trafficStep(sh *shop, rnd *rand.Rand) string {
	p, name, cbody, sbody, offer := rnd.Float64(), sim.Pick(rnd, script.Names), sim.Pick(rnd, script.In), sim.Pick(rnd, script.Out), rnd.IntN(10) == 0
	return sim.Step(sh, p, func() bool { return sh.index.Len() == 0 }, sim.Event{Name: actNewThread, Share: 0.20, Do: func() bool {
		at := sh.stamps.Next(time.Time{}, s.now)
		t := s.newThread(sh, sh.newThreadInput(name, offer), at)
		sh.index.Insert(t)
		_, _ = s.appendMessage(sh, t, Customer, cbody, nil, nil, at)
		return true
	}}, sim.Event{Name: actCustomer, Share: 0.45, Do: func() bool {
		t := sh.index.At(rnd.IntN(sh.index.Len()))
		from := sim.If(t.customer == nil, Operator, Customer)
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

// script is what the people of seeded and live traffic say.
var script = sim.Script{
	Names: []string{"Anna K.", "John D.", "Marta W.", "Luca B.", "Sofia R.", "Jan N.", "Emma L.", "Piotr S.", "Chloé M.", "Diego F.", "Ines P.", "Tom H."},
	In:    []string{"Where is my parcel?", "Could you send me the tracking number please?", "The item arrived damaged, what can I do?", "Is this still available in blue?", "I would like to return the product.", "Can you confirm the delivery date?"},
	Out:   []string{"Thank you for your message, we are looking into it.", "Your parcel left our warehouse yesterday.", "We have sent you a return label by e-mail.", "Sorry for the trouble, a replacement is on its way.", "The tracking number is in your order page."},
}
