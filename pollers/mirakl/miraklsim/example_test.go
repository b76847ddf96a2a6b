package miraklsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
)

// A test mounts the simulator in an httptest.Server and uses its URL as the
// Mirakl base URL.
func Example() {
	sim := miraklsim.New(miraklsim.Config{})
	sim.AddShop("2001", "shop-2001-key")
	at := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	id := sim.AddThread("2001", miraklsim.NewThread{Topic: "Delivery delay", Customer: "John D.", At: at})
	sim.AddMessage("2001", id, miraklsim.Customer, "Where is my parcel?", at)

	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/inbox/threads?updated_since=2024-03-01T00:00:00Z", nil)
	req.Header.Set("Authorization", "shop-2001-key") // the raw key, no Bearer
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Data []struct {
			Topic    struct{ Value string }
			Metadata struct {
				ShopReplyNeededSince *string `json:"shop_reply_needed_since"`
			}
		}
		NextPageToken *string `json:"next_page_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	th := page.Data[0]
	fmt.Println(th.Topic.Value, *th.Metadata.ShopReplyNeededSince, page.NextPageToken == nil)
	// Output: Delivery delay 2024-03-01T08:00:00Z true
}

// Faults make the next matching requests fail, here a rate-limit answer and
// then a truncated body, before the API answers normally again.
func ExampleServer_InjectFault() {
	sim := miraklsim.New(miraklsim.Config{})
	sim.AddShop("2001", "shop-2001-key")
	sim.InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusTooManyRequests, RetryAfter: "3"})
	sim.InjectFault(miraklsim.Fault{Endpoint: "M11", Status: http.StatusOK, Body: `{"data": [`})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/inbox/threads", nil)
		req.Header.Set("Authorization", "shop-2001-key")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s\n", resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(body))
	}
	// Output:
	// 429 "3" {"status":429,"message":"injected fault: 429 Too Many Requests"}
	// 200 "" {"data": [
	// 200 "" {"data":[]}
}
