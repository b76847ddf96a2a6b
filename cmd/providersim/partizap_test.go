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

// TestServePartizap runs providersim with Partizap vendors and reads them
// the way threadsync would: the accounts file's session as the cookie.
func TestServePartizap(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "0", "-partizap-accounts", "2", "-seed-threads", "5", "-rate", "0")
	addr, file := srv.addr, srv.accounts

	sessions := regexp.MustCompile(`token: "(pzs[0-9a-f]{32})"`).FindAllStringSubmatch(string(file), -1)
	for _, want := range []string{"provider: partizap", "id: vendor-502", "base_url: http://" + addr + "/partizap\n", `user_id: "502"`} {
		if !strings.Contains(string(file), want) {
			t.Fatalf("accounts file lacks %q:\n%s", want, file)
		}
	}
	if len(sessions) != 2 {
		t.Fatalf("accounts file:\n%s", file)
	}
	list := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/partizap/vendor/conversations?limit=100", nil)
		req.AddCookie(&http.Cookie{Name: "PARTIZAP_SESSION", Value: sessions[1][1]})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := list()
	var page struct {
		Data []struct {
			Participants []struct{ ID int64 }
		}
		Meta struct {
			HasMore bool `json:"has_more"`
		}
	}
	err := json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(page.Data) != 5 || page.Meta.HasMore || page.Data[0].Participants[0].ID != 502 {
		t.Fatalf("conversations of vendor 502: status %d, %+v, %v", resp.StatusCode, page, err)
	}

	resp, err = http.Post("http://"+addr+"/_admin/partizap/faults", "application/json", strings.NewReader(`{"endpoint":"conversations","account":502,"status":503}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if resp = list(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after fault injection: %d", resp.StatusCode)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/_admin/partizap/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ ConversationsCalls, Faults int }
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.ConversationsCalls != 2 || st.Faults != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	resp, err = http.Post("http://"+addr+"/_admin/partizap/faults", "application/json", strings.NewReader(`{"endpoint":"M11"}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad endpoint: %v %v", resp, err)
	}
	resp.Body.Close()

	srv.stop(t)
	for _, s := range sessions {
		if strings.Contains(logs.String(), s[1]) {
			t.Fatal("a session appears in the log")
		}
	}
	if err := run(context.Background(), []string{"-partizap-accounts", "-1", "-listen", "127.0.0.1:0"}, io.Discard, nil); err == nil {
		t.Fatal("-partizap-accounts -1: no error")
	}
}
