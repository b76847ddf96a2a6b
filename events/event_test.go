package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/events/eventstest"
	"github.com/threadsync/threadsync/schemas"
)

var origin = events.Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-2001"}

func TestIDsAreDeterministicAndDistinct(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	th := events.Thread{ID: "t-1", CreatedAt: at}
	m := events.Message{ID: "m-1", CreatedAt: at, Direction: events.Inbound}

	if a, b := events.NewThreadCreated(origin, th).ID, events.NewThreadCreated(origin, th).ID; a != b {
		t.Fatalf("ThreadCreated ids differ: %s %s", a, b)
	}
	// The same time in another zone is the same fact.
	if a, b := events.NewReplyNeeded(origin, "t-1", at, "m-1").ID, events.NewReplyNeeded(origin, "t-1", at.In(time.FixedZone("x", 3600)), "m-2").ID; a != b {
		t.Fatalf("ReplyNeeded ids of one episode differ: %s %s", a, b)
	}
	ids := map[string]string{}
	for name, id := range map[string]string{
		"created":         events.NewThreadCreated(origin, th).ID,
		"created-other":   events.NewThreadCreated(origin, events.Thread{ID: "t-2"}).ID,
		"created-account": events.NewThreadCreated(events.Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-2002"}, th).ID,
		"message":         events.NewMessageReceived(origin, "t-1", m).ID,
		"message-thread":  events.NewMessageReceived(origin, "t-2", m).ID,
		"reply":           events.NewReplyNeeded(origin, "t-1", at, "m-1").ID,
		"reply-later":     events.NewReplyNeeded(origin, "t-1", at.Add(time.Second), "m-1").ID,
	} {
		if prev, dup := ids[id]; dup {
			t.Fatalf("%s and %s share id %s", name, prev, id)
		}
		ids[id] = name
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	want := map[events.Type]string{
		events.ThreadCreated:    "inbox.mirakl.shop-2001.thread.created",
		events.MessageReceived:  "inbox.mirakl.shop-2001.message.received",
		events.ReplyNeeded:      "inbox.mirakl.shop-2001.reply.needed",
		events.ReplyResolved:    "inbox.mirakl.shop-2001.reply.resolved",
		events.ReplySLAWarning:  "inbox.mirakl.shop-2001.reply.sla_warning",
		events.ReplySLABreached: "inbox.mirakl.shop-2001.reply.sla_breached",
		events.AccountFailing:   "inbox.mirakl.shop-2001.account.failing",
		events.AccountRecovered: "inbox.mirakl.shop-2001.account.recovered",
		events.AccountPaused:    "inbox.mirakl.shop-2001.account.paused",
		events.AccountResumed:   "inbox.mirakl.shop-2001.account.resumed",
		events.AccountStateLost: "inbox.mirakl.shop-2001.account.state_lost",
	}
	if len(want) != len(events.Types) {
		t.Errorf("%d types tested, %d exist", len(want), len(events.Types))
	}
	for typ, subj := range want {
		if got := origin.Subject(typ); got != subj {
			t.Errorf("%s: subject %q, want %q", typ, got, subj)
		}
	}
	for _, bad := range []string{"a.b", "a*", ">", "a b", "a:b", "{a}", "", strings.Repeat("x", 65), "é"} {
		o := events.Origin{Prefix: "inbox", Provider: "mirakl", Account: bad}
		if err := o.Validate(); !errors.Is(err, events.ErrInvalidToken) {
			t.Errorf("account %q: Validate() = %v, want ErrInvalidToken", bad, err)
		}
	}
	if err := (events.Origin{Prefix: "acme.inbox", Provider: "olx", Account: "a_1-B"}).Validate(); err != nil {
		t.Errorf("valid origin rejected: %v", err)
	}
	if err := (events.Origin{Prefix: "acme..inbox", Provider: "olx", Account: "a"}).Validate(); err == nil {
		t.Error("prefix with an empty token accepted")
	}
}

// TestEpisodeEvents checks the episode events' ids and fields: one of each
// type per episode, the same whatever else differs.
func TestEpisodeEvents(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := events.SLA{Policy: "p", DueAt: since.Add(time.Hour), WarnAt: since.Add(50 * time.Minute)}
	ids := map[string]events.Type{}
	for _, e := range []events.Event{
		events.NewReplyNeeded(origin, "t", since, "m"),
		events.NewReplySLAWarning(origin, "t", since, s, true),
		events.NewReplySLABreached(origin, "t", since, s, true),
		events.NewReplyResolved(origin, "t", events.Resolved{NeededSince: since, At: since.Add(2 * time.Hour), How: events.Answered, Business: -1}),
	} {
		if prev, dup := ids[e.ID]; dup {
			t.Fatalf("%s and %s share id %s", prev, e.Type, e.ID)
		}
		ids[e.ID] = e.Type
	}
	if a, b := events.NewReplySLABreached(origin, "t", since, s, true), events.NewReplySLABreached(origin, "t", since, s, false); a.ID != b.ID {
		t.Fatal("a confirmed and an unconfirmed breach of one episode have different ids")
	}
	if a, b := events.NewReplySLABreached(origin, "t", since, s, true), events.NewReplySLABreached(origin, "t", since.Add(time.Second), s, true); a.ID == b.ID {
		t.Fatal("breaches of two episodes share an id")
	}
	late := events.NewReplyResolved(origin, "t", events.Resolved{NeededSince: since, At: since.Add(90 * time.Minute), How: events.Answered, SLA: &s, Business: 30 * time.Minute}).Data.(*events.ReplyResolvedData)
	if late.ResponseSeconds != 5400 || *late.WithinSLA || *late.BusinessSeconds != 1800 || !late.DueAt.Equal(s.DueAt) {
		t.Fatalf("late answer: %+v", late)
	}
	onTime := events.NewReplyResolved(origin, "t", events.Resolved{NeededSince: since, At: s.DueAt, How: events.Answered, SLA: &s, Business: -1}).Data.(*events.ReplyResolvedData)
	if !*onTime.WithinSLA || onTime.BusinessSeconds != nil {
		t.Fatalf("answer at the deadline: %+v", onTime)
	}
}

func TestEnvelopeMatchesSchema(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 1, 9, 30, 0, 123000000, time.FixedZone("CET", 3600))
	s := events.SLA{Policy: "support-hours", DueAt: at.Add(4 * time.Hour), WarnAt: at.Add(3 * time.Hour)}
	evs := []events.Event{
		events.NewThreadCreated(origin, events.Thread{ID: "t-1", CreatedAt: at, Topic: "Delivery"}),
		events.NewMessageReceived(origin, "t-1", events.Message{ID: "m-1", CreatedAt: at, Direction: events.Outbound}),
		events.NewReplyNeeded(origin, "t-1", at, "m-0"),
		events.NewReplyNeeded(origin, "t-1", at, "m-0").WithSLA(s),
		events.NewReplySLAWarning(origin, "t-1", at, s, true),
		events.NewReplySLABreached(origin, "t-1", at, s, false),
		events.NewReplyResolved(origin, "t-1", events.Resolved{NeededSince: at, At: at, How: events.Answered, AnswerMessageID: "m-2", Business: -1}),
		events.NewReplyResolved(origin, "t-1", events.Resolved{NeededSince: at, At: at, How: events.Closed, SLA: &s, Business: 90 * time.Minute}),
	}
	for _, e := range evs {
		b, env := valid(t, e)
		if env.Subject != "t-1" || env.Source != "threadsync/mirakl/shop-2001" || env.DataSchema != e.Type.SchemaID() {
			t.Fatalf("envelope %+v", env)
		}
		if d, err := events.DecodeData(env); err != nil || fmt.Sprintf("%T", d) != fmt.Sprintf("%T", e.Data) {
			t.Fatalf("%s: decoded as %T (%v), want %T", e.Type, d, err, e.Data)
		}
		if e.Type == events.ThreadCreated || e.Type == events.MessageReceived || e.Type == events.ReplyNeeded {
			if !strings.Contains(string(b), `"time":"2024-03-01T08:30:00.123Z"`) {
				t.Fatalf("time not UTC: %s", b)
			}
		}
		if !strings.Contains(string(b), `"time":"2024-03-01T`) {
			t.Fatalf("time not UTC: %s", b)
		}
	}
	// A resolved episode with a policy must say whether it was in time.
	bad := events.NewReplyResolved(origin, "t-1", events.Resolved{NeededSince: at, At: at, How: events.Answered, SLA: &s, Business: -1})
	bad.Data.(*events.ReplyResolvedData).WithinSLA = nil
	if b, _ := json.Marshal(bad); schemas.Validate(b) == nil {
		t.Fatal("ReplyResolved with a policy and no within_sla passed its schema")
	}
	// A broken event is caught: the schema check can fail.
	if err := schemas.Validate([]byte(`{"specversion":"1.0","id":"x","type":"MessageReceived"}`)); err == nil {
		t.Fatal("incomplete event passed its schema")
	}
}

func TestPublishAwaitsAcksAndDropsDuplicates(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	var evs []events.Event
	for i := range 500 {
		evs = append(evs, events.NewMessageReceived(origin, "t-1", events.Message{
			ID: "m-" + string(rune('a'+i%26)) + time.Duration(i).String(), CreatedAt: time.Unix(int64(i), 0), Direction: events.Inbound,
		}))
	}
	env.Publish(t, evs...)
	// Publishing the same page again, as after a crash before commit.
	env.Publish(t, evs...)
	got := env.ReadAll(t)
	if len(got) != len(evs) {
		t.Fatalf("stream holds %d events, want %d", len(got), len(evs))
	}
	for i, r := range got {
		if r.Envelope.ID != evs[i].ID || r.Subject != "inbox.mirakl.shop-2001.message.received" {
			t.Fatalf("event %d: %s on %s, want %s in publish order", i, r.Envelope.ID, r.Subject, evs[i].ID)
		}
	}
}

func TestPublishFailsWithoutStream(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	o := events.Origin{Prefix: "elsewhere", Provider: "mirakl", Account: "a"}
	err := env.Publisher.Publish(context.Background(), []events.Event{events.NewThreadCreated(o, events.Thread{ID: "t"})})
	if !errors.Is(err, events.ErrPublish) {
		t.Fatalf("publish to a subject no stream captures: %v, want ErrPublish", err)
	}
}

func TestWatermillAdapter(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	var pub message.Publisher = env.Publisher.Watermill()
	e := events.NewThreadCreated(origin, events.Thread{ID: "t-9", CreatedAt: time.Unix(0, 0)})
	payload, _ := json.Marshal(e)
	msg := message.NewMessage(e.ID, payload)
	if err := pub.Publish(e.Subject, msg, msg); err != nil {
		t.Fatal(err)
	}
	got := env.ReadAll(t)
	if len(got) != 1 || got[0].MsgID != e.ID {
		t.Fatalf("got %d events (%v), want the one with id %s", len(got), got, e.ID)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureStreamIsIdempotentAndWidensDuplicates(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	ctx := context.Background()
	cfg := events.StreamConfig{Name: env.Stream, SubjectPrefix: env.Prefix, Duplicates: 3 * time.Hour}
	warns, err := events.EnsureStream(ctx, env.JS, cfg)
	if err != nil || len(warns) != 0 {
		t.Fatalf("EnsureStream: %v %v", warns, err)
	}
	s, err := env.JS.Stream(ctx, env.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.CachedInfo().Config.Duplicates; d != 3*time.Hour {
		t.Fatalf("duplicate window %s, want 3h", d)
	}
	if _, err := events.EnsureStream(ctx, env.JS, events.StreamConfig{Name: "X", SubjectPrefix: "a..b"}); err == nil {
		t.Fatal("invalid prefix accepted")
	}
}

func TestEnsureStreamWarnsAboutRiskySettings(t *testing.T) {
	t.Parallel()
	env := eventstest.Start(t)
	ctx := context.Background()
	if _, err := env.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: "RISKY", Subjects: []string{"other.>"}, Storage: jetstream.MemoryStorage,
		Duplicates: time.Minute, MaxAge: 30 * time.Minute, Discard: jetstream.DiscardNew, MaxMsgs: 1000,
		MaxMsgsPerSubject: 10, Retention: jetstream.InterestPolicy,
	}); err != nil {
		t.Fatal(err)
	}
	warns, err := events.EnsureStream(ctx, env.JS, events.StreamConfig{Name: "RISKY", SubjectPrefix: "risky", Duplicates: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warns, "\n")
	for _, want := range []string{"memory storage", "max age", "discards new", "per subject", "interest retention"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning about %s in %q", want, all)
		}
	}
	s, _ := env.JS.Stream(ctx, "RISKY")
	if subj := s.CachedInfo().Config.Subjects; len(subj) != 2 || subj[1] != "risky.>" {
		t.Errorf("subjects %v, want risky.> added", subj)
	}
}

// TestDeployedStreamConfig keeps deploy/nats/stream.json valid: it creates
// that stream (on one replica) and threadsync accepts it without a warning.
func TestDeployedStreamConfig(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../deploy/nats/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg jetstream.StreamConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Storage != jetstream.FileStorage || cfg.Duplicates < time.Hour || cfg.MaxAge <= cfg.Duplicates {
		t.Fatalf("stream.json: storage %v, duplicates %s, max age %s", cfg.Storage, cfg.Duplicates, cfg.MaxAge)
	}
	env := eventstest.Start(t)
	// The test server already has INBOX on inbox.>.
	cfg.Name, cfg.Replicas, cfg.Subjects = "DEPLOYED", 1, []string{"deployed.>"}
	ctx := context.Background()
	if _, err := env.JS.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	warns, err := events.EnsureStream(ctx, env.JS, events.StreamConfig{Name: "DEPLOYED", SubjectPrefix: "deployed", Duplicates: 2 * time.Hour})
	if err != nil || len(warns) != 0 {
		t.Fatalf("EnsureStream on the deployed config: %v %v", warns, err)
	}
}

// TestEnsureStreamWarnsAboutOneReplicaInACluster runs a three-server
// JetStream cluster: a stream on one replica loses acknowledged events with
// its server's disk.
func TestEnsureStreamWarnsAboutOneReplicaInACluster(t *testing.T) {
	t.Parallel()
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	var servers []*server.Server
	for i, p := range ports {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: server.RANDOM_PORT,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "tsc", Host: "127.0.0.1", Port: p},
			Routes:  routes,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Shutdown)
		servers = append(servers, s)
	}
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The cluster elects its meta leader after the routes form; until then
	// stream requests fail.
	for {
		try, stop := context.WithTimeout(ctx, time.Second)
		_, err = js.CreateStream(try, jetstream.StreamConfig{Name: "ONE", Subjects: []string{"one.>"}, Replicas: 1})
		stop()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("create stream on the cluster: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	warns, err := events.EnsureStream(ctx, js, events.StreamConfig{Name: "ONE", SubjectPrefix: "one", Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(warns, "\n"); !strings.Contains(all, "1 replica(s) in cluster tsc") {
		t.Errorf("no warning about one replica in %q", all)
	}
}

// events.Describe gives each type of event one readable line, and says what it
// could not read.
func TestDescribe(t *testing.T) {
	o := events.Origin{Prefix: "inbox", Provider: "mirakl", Account: "shop-1"}
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	due := at.Add(time.Hour)
	cases := []struct {
		e    events.Event
		want string
	}{
		{events.NewThreadCreated(o, events.Thread{ID: "t-1", Topic: "parcel", CreatedAt: at}), `"parcel"`},
		{events.NewMessageReceived(o, "t-1", events.Message{ID: "m-1", CreatedAt: at, Direction: events.Outbound, Text: "shipped"}), `-> `},
		{events.NewReplyNeeded(o, "t-1", at, "m-1").WithSLA(events.SLA{Policy: "p", DueAt: due}), "; p: due"},
		{events.NewReplySLABreached(o, "t-1", at, events.SLA{Policy: "p", DueAt: due}, false), "unconfirmed"},
		{events.NewReplyResolved(o, "t-1", events.Resolved{NeededSince: at, At: at.Add(time.Minute), How: events.Answered, AnswerMessageID: "m-2", Business: -1}), "answered after 1m0s by message m-2"},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.e)
		if err != nil {
			t.Fatal(err)
		}
		got := events.Describe(b)
		if !strings.Contains(got, "mirakl/shop-1") || !strings.Contains(got, string(c.e.Type)) || !strings.Contains(got, c.want) {
			t.Errorf("events.Describe(%s) = %q, want it to hold %q", c.e.Type, got, c.want)
		}
	}
	if got := events.Describe([]byte("{")); !strings.HasPrefix(got, "??") {
		t.Errorf("events.Describe of a broken event = %q", got)
	}
}

// TestAccountEvents: each account health event matches its schema, names
// the account as its subject, decodes as AccountData, and gets the same id
// for the same change; a failing event without what failed is refused.
func TestAccountEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	evs := []events.Event{
		events.NewAccountEvent(origin, events.AccountFailing, events.AccountState{Since: at, Failures: 5, ErrorClass: "provider", Error: "GET https://x/api: HTTP 502"}),
		events.NewAccountEvent(origin, events.AccountRecovered, events.AccountState{Since: at, Failures: 7}),
		events.NewAccountEvent(origin, events.AccountPaused, events.AccountState{Since: at, By: "ana@ops", Reason: "offboarding"}),
		events.NewAccountEvent(origin, events.AccountResumed, events.AccountState{Since: at, By: "ana@ops"}),
		events.NewAccountEvent(origin, events.AccountStateLost, events.AccountState{Since: at, Mark: at.Add(-time.Hour), Action: "resume"}),
	}
	ids := map[string]bool{}
	for _, e := range evs {
		b, env := valid(t, e)
		if env.Subject != "shop-2001" || e.Subject != "inbox.mirakl.shop-2001."+e.Type.SubjectSuffix() {
			t.Fatalf("%s: envelope %+v on %s", e.Type, env, e.Subject)
		}
		d, err := events.DecodeData(env)
		if ad, ok := d.(*events.AccountData); err != nil || !ok || "account."+ad.State != e.Type.SubjectSuffix() {
			t.Fatalf("%s: decoded %#v, %v", e.Type, d, err)
		}
		if !e.Type.IsAccount() || ids[e.ID] {
			t.Fatalf("%s: IsAccount %v, id %s seen before", e.Type, e.Type.IsAccount(), e.ID)
		}
		ids[e.ID] = true
		if line := events.Describe(b); !strings.Contains(line, string(e.Type)) || !strings.Contains(line, "account") {
			t.Fatalf("described as %q", line)
		}
	}
	again := events.NewAccountEvent(origin, events.AccountFailing, events.AccountState{Since: at, Failures: 6, ErrorClass: "auth", Error: "401"})
	if again.ID != evs[0].ID {
		t.Fatal("one run of failures got two AccountFailing ids")
	}
	bare := events.NewAccountEvent(origin, events.AccountFailing, events.AccountState{Since: at})
	if b, _ := json.Marshal(bare); schemas.Validate(b) == nil {
		t.Fatal("AccountFailing without failures or error passed its schema")
	}
}

// valid encodes e, checks it against its schema and parses it back.
func valid(t *testing.T, e events.Event) ([]byte, events.Envelope) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(b); err != nil {
		t.Fatalf("%s: %v\n%s", e.Type, err, b)
	}
	env, err := events.ParseEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, env
}
