package main

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// provided is one provider of a providersim run, as a test reads it.
type provided struct {
	t      *testing.T
	base   string   // the provider's base URL
	tokens []string // the accounts' credentials, in the file's order
	client simtest.Client
	header []string // header lines every request of the provider carries
	admin  string   // the provider's admin API
}

// list GETs path below the base URL with account i's credential and the
// header lines.
func (p provided) list(i int, path string, header ...string) simtest.Response {
	p.t.Helper()
	r, err := p.client.Request(http.MethodGet, p.tokens[i], path, nil, append(p.header, header...)...)
	if err != nil {
		p.t.Fatal(err)
	}
	return r
}

// post POSTs body to the admin API's path and returns the status.
func (p provided) post(path, body string) int {
	p.t.Helper()
	resp, err := http.Post(p.admin+path, "application/json", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stats are the admin API's counters.
func (p provided) stats() map[string]any {
	p.t.Helper()
	resp, err := http.Get(p.admin + "/stats")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		p.t.Fatal(err)
	}
	return st
}

// TestServeProviders runs providersim with two accounts of one provider at
// a time and reads them the way threadsync would, through the accounts
// file it wrote; then it breaks the second account's list through the
// admin API and reads the counters back. No credential reaches the log.
func TestServeProviders(t *testing.T) {
	for _, c := range []struct {
		provider, count string
		// token is a credential in the accounts file, and file what else
		// the file says of the accounts.
		token string
		file  []string
		auth  simtest.Auth
		// list is the thread list below the base URL, items its array of
		// threads and threads how many each account has.
		list, items string
		threads     int
		// fault fails the second account's list; bad are faults the
		// provider refuses; calls counts the list's requests.
		fault string
		bad   []string
		calls string
		// check is what only the provider does.
		check func(p provided)
	}{{
		provider: "hubspot", count: "hubspot-accounts", token: `pat-na1-[0-9a-f-]{36}`,
		file: []string{"id: portal-24000002\n", `timezone: "UTC"`}, auth: simtest.Bearer,
		list: "/conversations/v3/conversations/threads", items: "results", threads: 5,
		fault: `{"endpoint":"threads","account":"24000002","status":503}`, bad: []string{`{"policy":"HOURLY"}`, `{"shop":"24000001"}`}, calls: "ThreadsCalls",
		check: func(p provided) {
			if code := p.post("/faults", `{"endpoint":"threads","status":429,"policy":"DAILY","times":1}`); code != http.StatusNoContent {
				p.t.Fatalf("DAILY fault: %d", code)
			}
			if r := p.list(0, "/conversations/v3/conversations/threads"); r.Status != http.StatusTooManyRequests || !strings.Contains(string(r.Body), `"policyName":"DAILY"`) {
				p.t.Fatalf("after the DAILY fault: %d %s", r.Status, r.Body)
			}
		},
	}, {
		provider: "mirakl", count: "mirakl-shops", token: `[0-9a-f]{32}`,
		file: []string{"id: shop-2002\n", `shop_id: "2002"`}, auth: simtest.Header("Authorization", ""),
		list: "/api/inbox/threads", items: "data", threads: 5,
		fault: `{"endpoint":"M11","shop":"2002","status":503}`, bad: []string{`{"account":"2002"}`}, calls: "M11Calls",
		check: func(p provided) {
			simtest.WantStatus(p.t, p.list(1, "/api/inbox/threads?shop_id=2002"), http.StatusOK)
			simtest.WantStatus(p.t, p.list(1, "/api/inbox/threads?shop_id=2001"), http.StatusForbidden)
		},
	}, {
		provider: "olx", count: "olx-accounts", token: `olx-[0-9a-f]{32}`,
		file: []string{"id: seller-2\n", `timezone: "Europe/Warsaw"`}, auth: simtest.Bearer,
		list: "/api/partner/threads", items: "data", threads: 5,
		fault: `{"endpoint":"threads","account":"seller-2","status":503}`, bad: []string{`{"shop":"seller-2"}`}, calls: "Threads",
		check: func(p provided) {
			// The accounts file's token, base URL and timezone are what
			// the OLX client needs to read the times right.
			c, err := olx.New(pollers.Account{Provider: olx.Name, ID: "seller-1", BaseURL: p.base, Token: p.tokens[0],
				Options: map[string]string{"timezone": "Europe/Warsaw"}}, http.DefaultClient)
			if err != nil {
				p.t.Fatal(err)
			}
			page, err := c.ListThreads(p.t.Context(), pollers.Query{})
			if err != nil || len(page.Items) != 5 || page.Next != "" {
				p.t.Fatalf("threads of seller-1: %+v, %v", page, err)
			}
			msgs, err := c.Messages(p.t.Context(), &page.Items[0], pollers.MessageCursor{})
			if err != nil || len(msgs) != 4 || msgs[3].CreatedAt.After(time.Now()) || time.Since(msgs[3].CreatedAt) > time.Hour {
				p.t.Fatalf("messages: %+v, %v (times read in the wrong zone?)", msgs, err)
			}
			// OLX refuses a GET with a Content-Type; so does the simulator.
			simtest.WantStatus(p.t, p.list(0, "/api/partner/threads", "Content-Type: application/json"), http.StatusBadRequest)
			if st := p.stats(); st["GETContentType"] != 1.0 || st["Messages"] != 1.0 {
				p.t.Fatalf("stats %v", st)
			}
		},
	}, {
		provider: "partizap", count: "partizap-accounts", token: `pzs[0-9a-f]{32}`,
		file: []string{"id: vendor-502\n", `user_id: "502"`}, auth: simtest.Cookie("PARTIZAP_SESSION"),
		list: "/vendor/conversations?limit=100", items: "data", threads: 5,
		fault: `{"endpoint":"conversations","account":502,"status":503}`, bad: []string{`{"account":"502"}`}, calls: "ConversationsCalls",
		check: func(p provided) {
			var page struct {
				Data []struct{ Participants []struct{ ID int64 } }
				Meta struct {
					HasMore bool `json:"has_more"`
				}
			}
			if err := p.client.JSON(p.tokens[1], "/vendor/conversations?limit=100", &page); err != nil || page.Meta.HasMore || page.Data[0].Participants[0].ID != 502 {
				p.t.Fatalf("conversations of vendor 502: %+v, %v", page, err)
			}
		},
	}, {
		provider: "selfcommunity", count: "selfcommunity-accounts", token: `[A-Z2-7]{26}`,
		file: []string{"id: owner-2\n", `user_id: "`}, auth: simtest.Bearer,
		// Five seeded threads and the one between the two owners.
		list: "/api/v2/pm/", items: "results", threads: 6,
		fault: `{"endpoint":"snippets","account":"owner_2","status":503}`, bad: []string{`{"shop":"owner_2"}`}, calls: "Snippets",
		check: func(p provided) {
			for i := range p.tokens {
				var page struct{ Next *string }
				if err := p.client.JSON(p.tokens[i], "/api/v2/pm/?limit=4", &page); err != nil || page.Next == nil || *page.Next != p.base+"/api/v2/pm/?limit=4&offset=4" {
					p.t.Fatalf("owner %d: %+v, %v", i+1, page, err)
				}
				simtest.WantStatus(p.t, p.list(i, *page.Next), http.StatusOK)
			}
		},
	}} {
		t.Run(c.provider, func(t *testing.T) {
			var logs syncBuffer
			srv := serve(t, &logs, "-mirakl-shops", "0", "-"+c.count, "2", "-seed-threads", "5", "-rate", "0")
			file := string(srv.accounts)
			base := "http://" + srv.addr + "/" + c.provider
			var tokens []string
			for _, m := range regexp.MustCompile(`token: "(`+c.token+`)"`).FindAllStringSubmatch(file, -1) {
				tokens = append(tokens, m[1])
			}
			if len(tokens) != 2 || strings.Count(file, "provider: "+c.provider+"\n") != 2 || strings.Count(file, "base_url: "+base+"\n") != 2 {
				t.Fatalf("accounts file:\n%s", file)
			}
			for _, want := range c.file {
				if !strings.Contains(file, want) {
					t.Fatalf("accounts file lacks %q:\n%s", want, file)
				}
			}
			if fi, err := os.Stat(srv.path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("accounts file: %v, %v; want mode 0600", fi, err)
			}
			resp, err := http.Get("http://" + srv.addr + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %v %v", resp, err)
			}
			resp.Body.Close()

			p := provided{t: t, base: base, tokens: tokens, client: simtest.Client{URL: base, Auth: c.auth}, admin: "http://" + srv.addr + "/_admin/" + c.provider}
			if c.provider == "olx" {
				p.header = []string{"Version: 2.0"}
			}
			for i := range tokens {
				r := p.list(i, c.list)
				var page map[string]json.RawMessage
				var items []json.RawMessage
				err := json.Unmarshal(r.Body, &page)
				if err == nil {
					err = json.Unmarshal(page[c.items], &items)
				}
				if err != nil || r.Status != http.StatusOK || len(items) != c.threads {
					t.Fatalf("list of account %d: %d, %d threads, %v; want %d: %.300s", i+1, r.Status, len(items), err, c.threads, r.Body)
				}
			}
			for _, bad := range append([]string{`{"endpoint":"nope"}`, `{"nope":1}`, `{"status":`}, c.bad...) {
				if code := p.post("/faults", bad); code != http.StatusBadRequest {
					t.Fatalf("fault %s: %d, want 400", bad, code)
				}
			}
			if code := p.post("/faults", c.fault); code != http.StatusNoContent {
				t.Fatalf("fault %s: %d", c.fault, code)
			}
			simtest.WantStatus(t, p.list(0, c.list), http.StatusOK)
			simtest.WantStatus(t, p.list(1, c.list), http.StatusServiceUnavailable)
			if st := p.stats(); st[c.calls] != 4.0 || st["Faults"] != 1.0 {
				t.Fatalf("stats %v: want 4 %s and 1 fault", st, c.calls)
			}
			c.check(p)

			srv.stop(t)
			for _, tok := range tokens {
				if strings.Contains(logs.String(), tok) {
					t.Fatal("a credential appears in the log")
				}
			}
			if !strings.Contains(logs.String(), "serving simulator") {
				t.Fatalf("log:\n%s", logs.String())
			}
		})
	}
}

// TestLiveTrafficSwitch starts providersim quiet, turns its live traffic on
// through PUT /_admin/traffic until a thread appears, and off again.
func TestLiveTrafficSwitch(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "1", "-hubspot-accounts", "0", "-olx-accounts", "0", "-partizap-accounts", "0",
		"-selfcommunity-accounts", "0", "-seed-threads", "0", "-rate", "0")
	m := regexp.MustCompile(`token: "([0-9a-f]{32})"`).FindStringSubmatch(string(srv.accounts))
	if m == nil {
		t.Fatalf("accounts file:\n%s", srv.accounts)
	}
	base, admin := "http://"+srv.addr+"/mirakl", "http://"+srv.addr+"/_admin/traffic"
	p := provided{t: t, base: base, tokens: []string{m[1]}, client: simtest.Client{URL: base, Auth: simtest.Header("Authorization", "")}}
	threads := func() int {
		var page struct{ Data []json.RawMessage }
		r := p.list(0, "/api/inbox/threads?shop_id=2001")
		simtest.WantStatus(t, r, http.StatusOK)
		if err := json.Unmarshal(r.Body, &page); err != nil {
			t.Fatal(err)
		}
		return len(page.Data)
	}
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, admin, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	rate := func() float64 {
		resp, err := http.Get(admin)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Rate float64 }
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Rate
	}
	if n, r := threads(), rate(); n != 0 || r != 0 {
		t.Fatalf("quiet start: %d threads, rate %v", n, r)
	}
	for _, bad := range []string{`{}`, `{"rate":-1}`, `{"rate":"fast"}`, `{"rate":1,"x":2}`} {
		if code := put(bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if code := put(`{"rate":200}`); code != http.StatusNoContent || rate() != 200 {
		t.Fatalf("PUT rate 200: %d, rate %v", code, rate())
	}
	deadline := time.Now().Add(30 * time.Second)
	for threads() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no thread 30 s after the traffic was turned on")
		}
		time.Sleep(10 * time.Millisecond) // the API has no other signal
	}
	if code := put(`{"rate":0}`); code != http.StatusNoContent || rate() != 0 {
		t.Fatalf("PUT rate 0: %d, rate %v", code, rate())
	}
	// Stopped means stopped: set returns once the traffic has ended, so
	// nothing is added after it (at 200 a second, 50 ms would show it).
	before := threads()
	time.Sleep(50 * time.Millisecond) // a window in which nothing may happen
	if after := threads(); after != before {
		t.Fatalf("threads still appear after the traffic stopped: %d → %d", before, after)
	}
}
