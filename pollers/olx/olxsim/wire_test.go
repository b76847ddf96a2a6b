package olxsim

import (
	"strings"
	"testing"
	"time"
)

// The wire format of olx.md §3: integer ids, zone-less times in the
// configured zone, counts, and the data envelope or a bare array.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	waw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	for _, bare := range []bool{false, true} {
		f := newFixture(t, Config{Location: waw, BareArray: bare})
		at := time.Date(2024, 3, 2, 13, 5, 11, 700, time.UTC)
		th := f.Sim.AddThread(acctA, NewThread{AdvertID: 880011, InterlocutorID: 5501, Favourite: true, At: at})
		f.Sim.AddMessageWithAttachments(acctA, th, Interlocutor, "Is it still available?", at,
			Attachment{Name: "photo.jpg", URL: "https://example.invalid/photo.jpg"})
		f.Sim.AddMessage(acctA, th, Interlocutor, "Hello?", at.Add(time.Minute))

		r := f.Get(tokenA, "/api/partner/threads")
		body := string(r.Body)
		wantThread := `{"id":` + th + `,"advert_id":880011,"interlocutor_id":5501,"total_count":2,"unread_count":2,"created_at":"2024-03-02 14:05:11","is_favourite":true}`
		want := `{"data":[` + wantThread + `]}`
		if bare {
			want = `[` + wantThread + `]`
		}
		if strings.TrimSpace(body) != want {
			t.Errorf("bare=%v list:\n%s\nwant\n%s", bare, body, want)
		}
		r = f.Get(tokenA, "/api/partner/threads/"+th+"/messages")
		if !strings.Contains(string(r.Body), `"thread_id":`+th+`,"created_at":"2024-03-02 14:05:11","type":"received","text":"Is it still available?","is_read":false,"attachments":[{"name":"photo.jpg","url":"https://example.invalid/photo.jpg"}],"cvs":[]}`) {
			t.Errorf("bare=%v messages: %s", bare, r.Body)
		}
		r = f.Get(tokenA, "/api/partner/threads/"+th)
		if want := wantThread; bare && strings.TrimSpace(string(r.Body)) != want || !bare && strings.TrimSpace(string(r.Body)) != `{"data":`+want+`}` {
			t.Errorf("bare=%v thread: %s", bare, r.Body)
		}
	}
	f := newFixture(t, Config{OmitAdvertID: true})
	th := f.Sim.AddThread(acctA, NewThread{AdvertID: 7})
	if r := f.Get(tokenA, "/api/partner/threads"); strings.Contains(string(r.Body), "advert_id") {
		t.Errorf("OmitAdvertID list: %s", r.Body)
	}
	if r := f.Get(tokenA, "/api/partner/threads/"+th); !strings.Contains(string(r.Body), `"advert_id":7`) {
		t.Errorf("OmitAdvertID thread: %s", r.Body)
	}
}
