package hubspotsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// history makes a thread with a welcome entry, two messages, a comment and
// a third message, and returns the thread id and the entry ids, oldest
// first.
func history(f *fixture) (string, []string) {
	th := f.Sim.AddThread(portalA, NewThread{Welcome: "Hi!", At: t0})
	info, _ := f.Sim.Thread(portalA, th)
	ids := []string{info.Activity[0].ID}
	ids = append(ids, f.Sim.AddMessage(portalA, th, Visitor, "question", t0.Add(time.Second)))
	ids = append(ids, f.Sim.AddMessage(portalA, th, Agent, "answer", t0.Add(2*time.Second)))
	ids = append(ids, f.Sim.AddComment(portalA, th, "note", t0.Add(3*time.Second)))
	ids = append(ids, f.Sim.AddMessage(portalA, th, Visitor, "thanks", t0.Add(4*time.Second)))
	return th, ids
}

func (f *fixture) messageWalk(path, query string) []string {
	f.T.Helper()
	return f.messageWalkFrom(path, query, "")
}

// messageWalkFrom walks on from a cursor ("" for the start).
func (f *fixture) messageWalkFrom(path, query, after string) []string {
	f.T.Helper()
	return walkAfter(f, tokA, path, query, after, func(m jMessage) string { return m.ID })
}

func TestMessagesNewestFirstWithPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th, ids := history(f)
	path := threadsURL + "/" + th + "/messages"
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	for _, limit := range []string{"1", "2", "5", "100"} {
		if got := f.messageWalk(path, "limit="+limit); !slices.Equal(got, newest) {
			t.Fatalf("limit %s: %v, want %v", limit, got, newest)
		}
		if got := f.messageWalk(path, "limit="+limit+"&sort=createdAt"); !slices.Equal(got, ids) {
			t.Fatalf("limit %s ascending: %v, want %v", limit, got, ids)
		}
	}
	// A message added during a walk does not disturb it.
	p := listPage[jMessage](f, tokA, path+"?limit=2")
	f.Sim.AddMessage(portalA, th, Agent, "you're welcome", time.Time{})
	rest := f.messageWalkFrom(path, "limit=2", p.after())
	if got := append([]string{p.Results[0].ID, p.Results[1].ID}, rest...); !slices.Equal(got, newest) {
		t.Fatalf("walk during a write %v, want %v", got, newest)
	}
	if p := listPage[jMessage](f, tokA, path+"?archived=true"); len(p.Results) != 0 || p.Paging != nil {
		t.Fatalf("archived messages %+v", p)
	}
	for _, q := range []string{"sort=id", "limit=0", "after=xyz", "archived=maybe"} {
		r := f.Get(tokA, path+"?"+q)
		simtest.WantStatus(t, r, http.StatusBadRequest)
		wantError(t, r.Body, catValidation)
	}
	r := f.Get(tokA, threadsURL+"/1/messages")
	simtest.WantStatus(t, r, http.StatusNotFound)
	wantError(t, r.Body, catNotFound)
	if st := f.Sim.Stats(); st.MessagesListed == 0 || st.MessagesCalls == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMessageJSONShape(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	th, ids := history(f)
	f.Sim.AddMessageWithAttachments(portalA, th, Agent, "<b>label</b>", t0.Add(5*time.Second), Attachment{Name: "label.pdf"})
	r := f.Get(tokA, threadsURL+"/"+th+"/messages?sort=createdAt")
	raw := simtest.Decode[struct{ Results []map[string]json.RawMessage }](t, r)
	if len(raw.Results) != 6 {
		t.Fatalf("%d entries: %s", len(raw.Results), r.Body)
	}
	str := func(m map[string]json.RawMessage, k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	for i, m := range raw.Results {
		typ := str(m, "type")
		for _, k := range []string{"type", "id", "conversationsThreadId", "createdAt", "updatedAt", "createdBy", "client", "archived", "text", "richText", "attachments"} {
			if _, ok := m[k]; !ok {
				t.Errorf("entry %d (%s) without %s", i, typ, k)
			}
		}
		_, hasDir := m["direction"]
		if hasDir != (typ != TypeComment) {
			t.Errorf("entry %d (%s): direction present %v", i, typ, hasDir)
		}
		if i < len(ids) && str(m, "id") != ids[i] {
			t.Errorf("entry %d id %s, want %s", i, str(m, "id"), ids[i])
		}
	}
	msg := raw.Results[1]
	if str(msg, "type") != TypeMessage || str(msg, "direction") != "INCOMING" || str(msg, "createdBy")[:2] != "V-" ||
		str(msg, "truncationStatus") != "NOT_TRUNCATED" || str(msg, "conversationsThreadId") != th ||
		str(msg, "createdAt") != "2024-03-01T08:00:01Z" || str(msg, "channelId") != ChannelChat {
		t.Fatalf("visitor message %v", msg)
	}
	var senders, recipients []struct {
		ActorID            string
		Name               string
		DeliveryIdentifier *struct{ Type, Value string }
	}
	_ = json.Unmarshal(msg["senders"], &senders)
	_ = json.Unmarshal(msg["recipients"], &recipients)
	if len(senders) != 1 || senders[0].DeliveryIdentifier == nil || len(recipients) != 0 {
		t.Fatalf("senders %s recipients %s", msg["senders"], msg["recipients"])
	}
	if last := raw.Results[5]; str(last, "direction") != "OUTGOING" || str(last, "createdBy") != "A-4242" ||
		str(last, "richText") != "<p>&lt;b&gt;label&lt;/b&gt;</p>" || !strings.Contains(string(last["attachments"]), `"name":"label.pdf"`) {
		t.Fatalf("agent message %v", last)
	}
	if str(raw.Results[0], "type") != TypeWelcome || str(raw.Results[3], "type") != TypeComment {
		t.Fatalf("entry types %s %s", raw.Results[0]["type"], raw.Results[3]["type"])
	}
}

func TestTruncationAndOriginalContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{TruncateAt: 12})
	th := f.Sim.AddThread(portalA, NewThread{At: t0})
	long := f.Sim.AddMessage(portalA, th, Visitor, "a long story about 12 parcels", t0)
	short := f.Sim.AddMessage(portalA, th, Agent, "short", t0.Add(time.Second))
	p := listPage[jMessage](f, tokA, threadsURL+"/"+th+"/messages?sort=createdAt")
	if m := p.Results[0]; m.Text != "a long story" || m.TruncationStatus != "TRUNCATED" {
		t.Fatalf("long message %+v", m)
	}
	if m := p.Results[1]; m.Text != "short" || m.TruncationStatus != "NOT_TRUNCATED" {
		t.Fatalf("short message %+v", m)
	}
	r := f.Get(tokA, threadsURL+"/"+th+"/messages/"+long+"/original-content")
	if oc := simtest.Decode[wireOriginal](t, r); oc.Text != "a long story about 12 parcels" || oc.RichText != "<p>a long story about 12 parcels</p>" {
		t.Fatalf("original content %+v", oc)
	}
	other := f.Sim.AddThread(portalA, NewThread{At: t0})
	for _, path := range []string{other + "/messages/" + short, th + "/messages/nope"} {
		r = f.Get(tokA, threadsURL+"/"+path+"/original-content")
		simtest.WantStatus(t, r, http.StatusNotFound)
	}
	if st := f.Sim.Stats(); st.OriginalContentCalls != 3 {
		t.Fatalf("stats %+v", st)
	}
}
