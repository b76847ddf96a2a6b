package partizapsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
)

// A test mounts the simulator in an httptest.Server and uses its URL as the
// Partizap base URL; the session goes in the PARTIZAP_SESSION cookie.
func Example() {
	sim := partizapsim.New(partizapsim.Config{})
	sim.AddVendor(5, "vendor-5-session")
	at := time.Date(2024, 3, 5, 15, 20, 0, 0, time.UTC)
	id := sim.AddThread(5, partizapsim.NewThread{Buyer: "Ivan", Product: "BMW E46 front bumper", At: at})
	sim.AddMessage(5, id, partizapsim.Buyer, "Is it original?", at.Add(2*time.Minute))

	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/vendor/conversations?limit=20", nil)
	req.AddCookie(&http.Cookie{Name: "PARTIZAP_SESSION", Value: "vendor-5-session"})
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Data []struct {
			ID          int64
			Product     struct{ Title string }
			LastMessage struct {
				SenderID  int64  `json:"sender_id"`
				Text      string `json:"text"`
				CreatedAt string `json:"created_at"`
			} `json:"last_message"`
			UnreadCount int `json:"unread_count"`
		}
		Meta struct {
			HasMore    bool    `json:"has_more"`
			NextCursor *string `json:"next_cursor"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	c := page.Data[0]
	fmt.Println(c.Product.Title, "|", c.LastMessage.Text, "|", c.LastMessage.CreatedAt, "| unread", c.UnreadCount, "| more", page.Meta.HasMore)
	// Output: BMW E46 front bumper | Is it original? | 2024-03-05T18:22:00+03:00 | unread 1 | more false
}

// Faults make the next matching requests fail, here a rate-limit answer and
// then a truncated body, before the API answers normally again.
func ExampleServer_InjectFault() {
	sim := partizapsim.New(partizapsim.Config{})
	sim.AddVendor(5, "vendor-5-session")
	sim.InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: http.StatusTooManyRequests, RetryAfter: "3"})
	sim.InjectFault(partizapsim.Fault{Endpoint: partizapsim.EndpointConversations, Status: http.StatusOK, Body: `{"data": [`})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/vendor/conversations", nil)
		req.AddCookie(&http.Cookie{Name: "PARTIZAP_SESSION", Value: "vendor-5-session"})
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s\n", resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(body))
	}
	// Output:
	// 429 "3" {"message":"Injected fault: 429 Too Many Requests."}
	// 200 "" {"data": [
	// 200 "" {"data":[],"meta":{"has_more":false,"next_cursor":null}}
}
