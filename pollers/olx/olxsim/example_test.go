package olxsim_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/threadsync/threadsync/pollers/olx/olxsim"
)

// A test mounts the simulator in an httptest.Server and uses its URL as the
// OLX base URL. Times come out as OLX writes them: wall clock in the site's
// zone, without the zone.
func Example() {
	warsaw, _ := time.LoadLocation("Europe/Warsaw")
	sim := olxsim.New(olxsim.Config{Location: warsaw})
	sim.AddAccount("seller", "access-token")
	at := time.Date(2024, 3, 2, 13, 5, 11, 0, time.UTC)
	th := sim.AddThread("seller", olxsim.NewThread{AdvertID: 880011, InterlocutorID: 5501, At: at})
	sim.AddMessage("seller", th, olxsim.Interlocutor, "Is it still available?", at)

	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/partner/threads?offset=0&limit=10", nil)
	req.Header.Set("Authorization", "Bearer access-token")
	req.Header.Set("Version", "2.0") // mandatory
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s", bytes.Replace(body, []byte(th), []byte("<id>"), 1))
	// Output:
	// {"data":[{"id":<id>,"advert_id":880011,"interlocutor_id":5501,"total_count":1,"unread_count":1,"created_at":"2024-03-02 14:05:11","is_favourite":false}]}
}

// Faults make the next matching requests fail, here a rate-limit answer and
// then a truncated body, before the API answers normally again.
func ExampleServer_InjectFault() {
	sim := olxsim.New(olxsim.Config{})
	sim.AddAccount("seller", "access-token")
	sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: http.StatusTooManyRequests, RetryAfter: "3"})
	sim.InjectFault(olxsim.Fault{Endpoint: olxsim.EndpointThreads, Status: http.StatusOK, Body: `{"data": [`})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/partner/threads", nil)
		req.Header.Set("Authorization", "Bearer access-token")
		req.Header.Set("Version", "2.0")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %q %s\n", resp.StatusCode, resp.Header.Get("Retry-After"), bytes.TrimSpace(body))
	}
	// Output:
	// 429 "3" {"error":{"status":429,"title":"Too Many Requests","detail":"injected fault: 429"}}
	// 200 "" {"data": [
	// 200 "" {"data":[]}
}
