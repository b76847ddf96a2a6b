package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/olx"
)

// TestServeOLX runs providersim with OLX users and reads them the way
// threadsync would: the accounts file's token, base URL and timezone
// through the OLX client.
func TestServeOLX(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "0", "-olx-accounts", "2", "-seed-threads", "5", "-rate", "0")
	addr, file := srv.addr, srv.accounts

	tokens := regexp.MustCompile(`token: "(olx-[0-9a-f]{32})"`).FindAllStringSubmatch(string(file), -1)
	base := "http://" + addr + "/olx"
	for _, want := range []string{"provider: olx", "id: seller-2", "base_url: " + base + "\n", `timezone: "Europe/Warsaw"`} {
		if !strings.Contains(string(file), want) {
			t.Fatalf("accounts file lacks %q:\n%s", want, file)
		}
	}
	if len(tokens) != 2 {
		t.Fatalf("accounts file:\n%s", file)
	}

	c, err := olx.New(pollers.Account{Provider: olx.Name, ID: "seller-2", BaseURL: base, Token: tokens[1][1],
		Options: map[string]string{"timezone": "Europe/Warsaw"}}, http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.ListThreads(t.Context(), pollers.Query{})
	if err != nil || len(page.Items) != 5 || page.Next != "" {
		t.Fatalf("threads of seller-2: %+v, %v", page, err)
	}
	msgs, err := c.Messages(t.Context(), &page.Items[0], pollers.MessageCursor{})
	if err != nil || len(msgs) != 4 || msgs[3].CreatedAt.After(time.Now()) || time.Since(msgs[3].CreatedAt) > time.Hour {
		t.Fatalf("messages: %+v, %v (times read in the wrong zone?)", msgs, err)
	}

	// OLX refuses a GET with a Content-Type; so does the simulator.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/partner/threads", nil)
	req.Header.Set("Authorization", "Bearer "+tokens[0][1])
	req.Header.Set("Version", "2.0")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET with Content-Type: %v %v", resp, err)
	}
	resp.Body.Close()

	// The admin API injects faults and shows the counters.
	resp, err = http.Post("http://"+addr+"/_admin/olx/faults", "application/json", strings.NewReader(`{"endpoint":"threads","account":"seller-2","status":503}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := c.ListThreads(t.Context(), pollers.Query{}); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("after fault injection: %v", err)
	}
	resp, err = http.Post("http://"+addr+"/_admin/olx/faults", "application/json", strings.NewReader(`{"endpoint":"M11"}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("fault on an unknown endpoint: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/_admin/olx/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Threads, Messages, GETContentType, Faults int64 }
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Threads != 2 || st.Messages != 1 || st.GETContentType != 1 || st.Faults != 1 {
		t.Fatalf("stats %+v, %v", st, err)
	}

	srv.stop(t)
	for _, tok := range tokens {
		if strings.Contains(logs.String(), tok[1]) {
			t.Fatal("a token appears in the log")
		}
	}
}

func TestOLXFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-olx-accounts", "-1", "-listen", "127.0.0.1:0"},
		{"-olx-timezone", "Mars/Olympus", "-listen", "127.0.0.1:0"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}
