package miraklsim

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/threadsync/threadsync/pollers/sim"
)

// MaxMessagesPerThread is Mirakl's cap on the messages of one thread; M12
// answers 400 beyond it.
const MaxMessagesPerThread = 1000

// maxAttachmentsPerEntity is Mirakl's cap on M12 attachments across all the
// threads of one entity (one order, one offer).
const maxAttachmentsPerEntity = 50

// withMessagesLimit is how many of the newest messages M11 includes per
// thread with with_messages=true.
const withMessagesLimit = 100

// SenderType is who wrote a message.
type SenderType int

// The senders of Mirakl messages. The zero SenderType is deliberately invalid,
// so a forgotten argument is caught.
const (
	Customer SenderType = iota + 1
	Shop
	Operator
)

// String returns the sender type as Mirakl writes it in from.type.

func (t SenderType) String() string {
	return sim.Name("SenderType", int(t), "", "CUSTOMER_USER", "SHOP_USER", "OPERATOR_USER")
}

// Participant types, as Mirakl writes them in participants and recipients.
const (
	partOperator = "OPERATOR"
	partShop     = "SHOP"
	partCustomer = "CUSTOMER"
)

// EntitySellerOperator is the entity type of shop↔operator threads, which
// have no customer.
const EntitySellerOperator = "SELLER_OPERATOR"

var (
	operatorPart   = wireParticipant{DisplayName: "Marketplace", Type: partOperator}
	operatorSender = &wireSender{DisplayName: "Marketplace", Type: Operator.String(), OrganizationDetails: &operatorPart}
)

// NewThread describes a thread for AddThread. Every field is optional.
type NewThread struct {
	// Topic is the subject; default "Question about <entity id>".
	Topic string
	// TopicType is FREE_TEXT (default) or REASON_CODE.
	TopicType string
	// EntityType is what the thread is about: MMP_ORDER (default), MMP_OFFER,
	// MPS_ORDER, MPS_SERVICE or SELLER_OPERATOR (no customer takes part).
	EntityType string
	// EntityID identifies the order or offer; default a generated order id.
	EntityID string
	// Customer is the customer's display name; default "Customer <n>". The
	// same name in several threads of a shop is the same customer (same id).
	Customer string
	// At is the creation time; zero means now (see AddMessage about times).
	At time.Time
}

// Attachment is a file attached to a message. Only its metadata is kept.
type Attachment struct {
	ID   string // generated when empty
	Name string
	Size int64
}

// ThreadInfo is the ground truth about a thread, for assertions.
type ThreadInfo struct {
	ID                   string
	Topic                string
	EntityType, EntityID string
	CustomerID, Customer string // empty for SELLER_OPERATOR threads
	CreatedAt, UpdatedAt time.Time
	// ReplyNeededSince is what metadata.shop_reply_needed_since says; nil
	// when the shop does not owe a reply.
	ReplyNeededSince *time.Time
	Messages         []MessageInfo // oldest first
}

// MessageInfo is the ground truth about a message.
type MessageInfo struct {
	ID   string
	At   time.Time
	From SenderType
	// Direction is "inbound" (customer, operator) or "outbound" (the shop),
	// the way threadsync's events name it.
	Direction   string
	Body        string
	Attachments []Attachment
}

var (
	errUnknownThread  = errors.New("miraklsim: unknown thread")
	errThreadFull     = errors.New("miraklsim: thread has reached the maximum of 1000 messages")
	errNoCustomer     = errors.New("miraklsim: thread has no customer participant")
	errBadSender      = errors.New("miraklsim: invalid sender type")
	errTooManyAttachs = errors.New("miraklsim: more than 50 attachments for this entity")
)

type shop struct {
	id     string
	part   wireParticipant
	sender *wireSender
	toShop []wireParticipant // shared default recipients, never modified

	sync.RWMutex // guards what follows
	threads      map[string]*thread
	// index holds every thread sorted by (date_updated, id): the M11 order.
	index sim.Index[string, *thread]
	// pending holds the threads awaiting a shop reply, for Traffic.
	pending     sim.Set[*thread]
	customers   map[string]string // display name -> customer id
	attachments map[string]int    // entity -> attachments posted through M12
	seq         int               // generated names and entity ids
	// stamps times new events: strictly increasing when taken from the
	// clock, which keeps date_updated unique and increasing, and that is
	// what makes the M11 keyset walk lose nothing.
	stamps sim.Stamps
}

// thread is guarded by its shop's mu. What responses keep after the lock is
// released (messages, participants, entities, formatted dates) is never
// modified in place, only replaced or appended to.
type thread struct {
	id         string
	created    time.Time
	createdStr string
	updated    time.Time
	updNs      int64 // updated as UnixNano: the index compares it a lot
	updatedStr string
	topic      wireTopic
	entityType string
	entityID   string
	entities   []wireEntity
	customer   *wireParticipant // nil in SELLER_OPERATOR threads
	custSender *wireSender
	authorized []wireParticipant
	// current is replaced, never modified, when a participant joins, so
	// responses may keep the old slice without a lock.
	current      []wireParticipant
	participated uint8
	msgs         []*message // append-only
	replyNeeded  time.Time  // zero: no reply needed
	replyStr     *string
	noReply      []wireNoReply
	indexed      bool
	toCustomer   []wireParticipant // shared default recipients, never modified
}

const (
	joinedOperator uint8 = 1 << iota
	joinedShop
	joinedCustomer
)

func newShop(id string) *shop {
	name := "Shop " + id
	sh := &shop{
		id:          id,
		part:        wireParticipant{DisplayName: name, ID: id, Type: partShop},
		threads:     make(map[string]*thread),
		index:       sim.Index[string, *thread]{Key: func(t *thread) (int64, string) { return t.updNs, t.id }},
		customers:   make(map[string]string),
		attachments: make(map[string]int),
		stamps:      sim.Stamps{Unit: time.Microsecond},
	}
	sh.sender = &wireSender{DisplayName: name, Type: Shop.String(), OrganizationDetails: &sh.part}
	sh.toShop = []wireParticipant{sh.part}
	return sh
}

// newID returns a UUID-shaped id. Ids come from a counter run through a
// mixing function rather than from crypto/rand: they look like Mirakl's,
// sort in no particular order (so the id tie-break of the M11 order is
// exercised), and a test that creates the same data in the same order gets
// the same ids every run.
func (s *Server) newID() string { return sim.UUID(s.idSeq.Add(1)) }

// setUpdated moves t in the index to its new date_updated. Threads not
// indexed yet (Seed builds them in bulk and sorts once) only get their new
// time.
func (sh *shop) setUpdated(t *thread, at time.Time) {
	if !t.indexed {
		t.touch(at)
		return
	}
	sh.index.Remove(t)
	t.touch(at)
	sh.index.Insert(t)
}

// insert adds t to the index at its place.
func (sh *shop) insert(t *thread) {
	sh.index.Insert(t)
	t.indexed = true
}

func (t *thread) touch(at time.Time) {
	t.updated = at
	t.updNs = at.UnixNano()
	t.updatedStr = formatTime(at)
}

func (sh *shop) customerID(name string) string {
	id, ok := sh.customers[name]
	if !ok {
		id = "cust-" + sh.id + "-" + strconv.Itoa(len(sh.customers)+1)
		sh.customers[name] = id
	}
	return id
}

// newThread builds a thread without putting it in the index. Call with sh.mu
// held.
func (s *Server) newThread(sh *shop, in NewThread, at time.Time) *thread {
	sh.seq++
	if in.EntityType == "" {
		in.EntityType = "MMP_ORDER"
	}
	if in.EntityID == "" {
		in.EntityID = "ORDER-" + sh.id + "-" + strconv.Itoa(sh.seq) + "-A"
	}
	if in.Topic == "" {
		in.Topic = "Question about " + in.EntityID
	}
	if in.TopicType == "" {
		in.TopicType = "FREE_TEXT"
	}
	t := &thread{
		id:         s.newID(),
		created:    at,
		createdStr: formatTime(at),
		topic:      wireTopic{Type: in.TopicType, Value: in.Topic},
		entityType: in.EntityType,
		entityID:   in.EntityID,
		entities:   []wireEntity{{ID: in.EntityID, Label: in.EntityID, Type: in.EntityType}},
		current:    []wireParticipant{},
	}
	t.touch(at)
	t.authorized = []wireParticipant{operatorPart, sh.part}
	if in.EntityType != EntitySellerOperator {
		if in.Customer == "" {
			in.Customer = "Customer " + strconv.Itoa(sh.seq)
		}
		cust := wireParticipant{DisplayName: in.Customer, ID: sh.customerID(in.Customer), Type: partCustomer}
		t.customer = &cust
		t.custSender = &wireSender{DisplayName: cust.DisplayName, Type: Customer.String(), OrganizationDetails: t.customer}
		t.toCustomer = []wireParticipant{cust}
		t.authorized = append(t.authorized, cust)
	}
	sh.threads[t.id] = t
	return t
}

// participant returns the thread's participant of a Mirakl participant type.
func (t *thread) participant(sh *shop, typ string) (wireParticipant, bool) {
	switch typ {
	case partOperator:
		return operatorPart, true
	case partShop:
		return sh.part, true
	case partCustomer:
		if t.customer != nil {
			return *t.customer, true
		}
	}
	return wireParticipant{}, false
}

func joinedBit(typ string) uint8 {
	switch typ {
	case partOperator:
		return joinedOperator
	case partShop:
		return joinedShop
	case partCustomer:
		return joinedCustomer
	}
	return 0
}

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

// appendMessage adds a message and updates everything that depends on it:
// date_updated (and so the thread's place in the M11 order), participants,
// reply-needed state. Call with sh.mu held. A nil to means the default
// recipients.
func (s *Server) appendMessage(sh *shop, t *thread, from SenderType, body string, to []wireParticipant, atts []Attachment, at time.Time) (*message, error) {
	if len(t.msgs) >= MaxMessagesPerThread {
		return nil, errThreadFull
	}
	var sender *wireSender
	var fromType string
	switch from {
	case Customer:
		if t.customer == nil {
			return nil, errNoCustomer
		}
		sender, fromType = t.custSender, partCustomer
	case Shop:
		sender, fromType = sh.sender, partShop
	case Operator:
		sender, fromType = operatorSender, partOperator
	default:
		return nil, errBadSender
	}
	if to == nil {
		to = t.defaultRecipients(sh, from)
	}
	at = sh.stamps.Next(at, s.now)
	m := &message{
		ID:          s.newID(),
		DateCreated: formatTime(at),
		Body:        body,
		From:        sender,
		To:          to,
		Attachments: make([]wireAttachment, len(atts)),
		at:          at,
		from:        from,
	}
	for i, a := range atts {
		if a.ID == "" {
			a.ID = s.newID()
		}
		m.Attachments[i] = wireAttachment(a)
	}
	t.msgs = append(t.msgs, m)

	joined := t.participated | joinedBit(fromType)
	for _, p := range to {
		joined |= joinedBit(p.Type)
	}
	if joined != t.participated {
		t.participated = joined
		cur := make([]wireParticipant, 0, len(t.authorized))
		for _, p := range t.authorized {
			if joined&joinedBit(p.Type) != 0 {
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
	t.replyNeeded = at
	if at.IsZero() {
		t.replyStr = nil
		return
	}
	str := formatTime(at)
	t.replyStr = &str
}

// wire builds the JSON form of the thread. Call with sh.mu held (read is
// enough); the result shares only immutable data with the thread.
func (t *thread) wire(withMessages bool, lastN int) wireThread {
	w := wireThread{
		ID:                     t.id,
		DateCreated:            t.createdStr,
		DateUpdated:            t.updatedStr,
		Topic:                  t.topic,
		Entities:               t.entities,
		AuthorizedParticipants: t.authorized,
		CurrentParticipants:    t.current,
		Metadata: wireMetadata{
			ShopReplyNeededSince: t.replyStr,
			TotalCount:           len(t.msgs),
		},
	}
	if n := len(t.msgs); n > 0 {
		last := t.msgs[n-1]
		w.Metadata.LastMessageDate = last.DateCreated
		w.Metadata.LastSender = last.From
	}
	if withMessages {
		msgs := t.msgs
		if lastN > 0 && len(msgs) > lastN {
			msgs = msgs[len(msgs)-lastN:]
		}
		// Appends by writers touch only elements past len(msgs), and
		// noReply is copied on write, so both are safe to share.
		w.Messages = msgs[:len(msgs):len(msgs)]
		if w.Messages == nil {
			w.Messages = emptyMessages
		}
		w.NoStoreReplyNeeded = t.noReply
		if w.NoStoreReplyNeeded == nil {
			w.NoStoreReplyNeeded = emptyNoReply
		}
	}
	return w
}

func (t *thread) info() ThreadInfo {
	ti := ThreadInfo{
		ID:         t.id,
		Topic:      t.topic.Value,
		EntityType: t.entityType,
		EntityID:   t.entityID,
		CreatedAt:  t.created,
		UpdatedAt:  t.updated,
		Messages:   make([]MessageInfo, len(t.msgs)),
	}
	if t.customer != nil {
		ti.CustomerID, ti.Customer = t.customer.ID, t.customer.DisplayName
	}
	if !t.replyNeeded.IsZero() {
		at := t.replyNeeded
		ti.ReplyNeededSince = &at
	}
	for i, m := range t.msgs {
		mi := MessageInfo{ID: m.ID, At: m.at, From: m.from, Direction: string(sim.Direction(m.from == Shop)), Body: m.Body}
		for _, a := range m.Attachments {
			mi.Attachments = append(mi.Attachments, Attachment(a))
		}
		ti.Messages[i] = mi
	}
	return ti
}

// AddThread creates a thread without messages in the shop's inbox and returns
// its id. It panics if the shop is unknown: that is a mistake in the test.
func (s *Server) AddThread(shopID string, in NewThread) string {
	return sim.Edit(&s.shops, shopID, func(sh *shop) string {
		t := s.newThread(sh, in, sh.stamps.Next(in.At, s.now))
		sh.insert(t)
		return t.id
	})
}

// AddMessage appends a message to a thread and returns the message's id. The
// thread's date_updated becomes the message's time, which moves it in the
// M11 order, and its reply-needed state follows the sender.
//
// A zero at means now by Config.Now, made strictly later than any time the
// shop handed out before, so two calls never share an instant. An explicit
// at is used as given; keep explicit times increasing if the walk order
// matters to the test.
//
// AddMessage panics if the shop or thread is unknown, the thread already has
// MaxMessagesPerThread messages, or a customer writes in a SELLER_OPERATOR
// thread: all mistakes in the test's setup.
func (s *Server) AddMessage(shopID, threadID string, from SenderType, body string, at time.Time) string {
	return s.AddMessageWithAttachments(shopID, threadID, from, body, at)
}

// AddMessageWithAttachments is AddMessage with attachments on the message.
func (s *Server) AddMessageWithAttachments(shopID, threadID string, from SenderType, body string, at time.Time, files ...Attachment) string {
	return sim.Edit(&s.shops, shopID, func(sh *shop) string {
		m, err := s.appendMessage(sh, sh.mustThread(threadID), from, body, nil, files, at)
		if err != nil {
			panic(err)
		}
		return m.ID
	})
}

// MarkNoReplyNeeded records a "no reply needed" action by the shop or the
// operator: it appears in no_store_reply_needed, clears
// shop_reply_needed_since and updates date_updated. It panics on an unknown
// shop or thread or a sender other than Shop or Operator.
func (s *Server) MarkNoReplyNeeded(shopID, threadID string, by SenderType, at time.Time) {
	if by != Shop && by != Operator {
		panic(errBadSender)
	}
	sim.Edit(&s.shops, shopID, func(sh *shop) error {
		t := sh.mustThread(threadID)
		at = sh.stamps.Next(at, s.now)
		// Copy on write: responses may hold the old slice.
		nr := make([]wireNoReply, len(t.noReply), len(t.noReply)+1)
		copy(nr, t.noReply)
		t.noReply = append(nr, wireNoReply{Date: formatTime(at), UserType: map[SenderType]string{Shop: partShop, Operator: partOperator}[by]})
		t.setReplyNeeded(time.Time{})
		sh.pending.Put(t, false)
		sh.setUpdated(t, at)
		return nil
	})
}

func (sh *shop) mustThread(id string) *thread {
	t := sh.threads[id]
	if t == nil {
		panic(fmt.Errorf("%w %q in shop %q", errUnknownThread, id, sh.id))
	}
	return t
}

// Threads returns the ground truth of a shop's inbox in the M11 order
// (date_updated, then id), or nil for an unknown shop.
func (s *Server) Threads(shopID string) []ThreadInfo {
	out, _ := sim.View(&s.shops, shopID, func(sh *shop) []ThreadInfo {
		out := make([]ThreadInfo, sh.index.Len())
		for i, t := range sh.index.Items() {
			out[i] = t.info()
		}
		return out
	})
	return out
}

// Thread returns the ground truth of one thread.
func (s *Server) Thread(shopID, threadID string) (ThreadInfo, bool) {
	return sim.Lookup(&s.shops, shopID, func(sh *shop) (ThreadInfo, bool) {
		t := sh.threads[threadID]
		if t == nil {
			return ThreadInfo{}, false
		}
		return t.info(), true
	})
}
