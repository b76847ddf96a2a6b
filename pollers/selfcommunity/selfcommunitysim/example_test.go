package selfcommunitysim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// A test mounts the simulator in an httptest.Server and uses its URL as the
// community's base URL; the account's user id is the poller's user_id.
func Example() {
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	userID := sim.AddAccount("shop_owner", "owner-token")
	at := time.Date(2024, 3, 5, 17, 20, 2, 100, time.UTC)
	sim.AddThread("shop_owner", selfcommunitysim.NewThread{With: "maria", Text: "Is the meetup still on?", At: at})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v2/pm/?limit=20", nil)
	req.Header.Set("Authorization", "Bearer owner-token")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Count   int
		Next    *string
		Results []struct {
			Headline      string `json:"headline"`
			LastMessageAt string `json:"last_message_at"`
			ThreadStatus  string `json:"thread_status"`
			Sender        struct{ Username string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	s := page.Results[0]
	fmt.Println(userID, page.Count, page.Next == nil, s.Sender.Username, s.Headline, s.LastMessageAt, s.ThreadStatus)
	// Output: 1 1 true maria Is the meetup still on? 2024-03-05T18:20:02+01:00 new
}

// Faults make the next matching requests fail, here a throttling answer and
// then a page whose next link leaves the community, before the API answers
// normally again.
func ExampleServer_InjectFault() {
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	sim.AddAccount("shop_owner", "owner-token")
	sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusTooManyRequests, RetryAfter: "3"})
	sim.InjectFault(selfcommunitysim.Fault{Endpoint: selfcommunitysim.EndpointSnippets, Status: http.StatusOK,
		Body: `{"count":9,"next":"https://elsewhere.example/api/v2/pm/?limit=4&offset=4","previous":null,"results":[]}`})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v2/pm/", nil)
		req.Header.Set("Authorization", "Bearer owner-token")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s\n", resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(body))
	}
	// Output:
	// 429 "3" {"detail":"Request was throttled. Expected available in 3 seconds."}
	// 200 "" {"count":9,"next":"https://elsewhere.example/api/v2/pm/?limit=4&offset=4","previous":null,"results":[]}
	// 200 "" {"count":0,"next":null,"previous":null,"results":[]}
}
