package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestServeSelfCommunity reads the accounts file providersim writes and
// calls the community with each account's token: the snippet list, paged
// by next links under the /selfcommunity prefix, and the admin API.
func TestServeSelfCommunity(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "0", "-selfcommunity-accounts", "2", "-seed-threads", "5", "-rate", "0")
	addr, file := srv.addr, srv.accounts
	accts := regexp.MustCompile(`id: (owner-\d)\n    base_url: (\S+)\n    token: "([A-Z2-7]{26})"\n(?s:.*?)user_id: "(\d+)"`).FindAllStringSubmatch(string(file), -1)
	if len(accts) != 2 || accts[0][2] != "http://"+addr+"/selfcommunity" || accts[0][4] == accts[1][4] {
		t.Fatalf("accounts file:\n%s", file)
	}
	get := func(url, token string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, a := range accts {
		// Five seeded threads and the one between the two owners.
		resp := get(a[2]+"/api/v2/pm/?limit=4", a[3])
		var page struct {
			Count   int
			Next    *string
			Results []json.RawMessage
		}
		err := json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || page.Count != 6 || len(page.Results) != 4 ||
			page.Next == nil || *page.Next != a[2]+"/api/v2/pm/?limit=4&offset=4" {
			t.Fatalf("%s: status %d, %+v, %v", a[1], resp.StatusCode, page, err)
		}
		resp = get(*page.Next, a[3])
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: next page: %d", a[1], resp.StatusCode)
		}
	}

	admin := "http://" + addr + "/_admin/selfcommunity"
	resp, err := http.Post(admin+"/faults", "application/json", strings.NewReader(`{"endpoint":"snippets","account":"owner_2","status":503}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp, _ := http.Post(admin+"/faults", "application/json", strings.NewReader(`{"endpoint":"M11"}`)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown endpoint accepted: %d", resp.StatusCode)
	}
	if resp := get(accts[0][2]+"/api/v2/pm/", accts[0][3]); resp.StatusCode != http.StatusOK {
		t.Fatalf("owner-1 hit owner-2's fault: %d", resp.StatusCode)
	}
	if resp := get(accts[1][2]+"/api/v2/pm/", accts[1][3]); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("owner-2 after the fault: %d", resp.StatusCode)
	}
	resp, err = http.Get(admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"Snippets":6`) || !strings.Contains(string(body), `"Faults":1`) {
		t.Fatalf("stats %s", body)
	}

	srv.stop(t)
	for _, a := range accts {
		if strings.Contains(logs.String(), a[3]) {
			t.Fatal("a token appears in the log")
		}
	}
	if err := run(context.Background(), []string{"-selfcommunity-accounts", "-1", "-listen", "127.0.0.1:0"}, io.Discard, nil); err == nil {
		t.Fatal("negative -selfcommunity-accounts accepted")
	}
}
