package hubspotsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
)

// A test mounts the simulator in an httptest.Server and uses its URL as the
// HubSpot base URL.
func Example() {
	sim := hubspotsim.New(hubspotsim.Config{})
	sim.AddAccount("24000001", "pat-na1-example")
	at := time.Date(2024, 3, 1, 9, 15, 0, 0, time.UTC)
	id := sim.AddThread("24000001", hubspotsim.NewThread{Visitor: "Jane", At: at})
	sim.AddMessage("24000001", id, hubspotsim.Visitor, "Any update on my order?", at.Add(time.Minute))

	srv := httptest.NewServer(sim)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/conversations/v3/conversations/threads"+
		"?sort=latestMessageTimestamp&latestMessageTimestampAfter=2024-03-01T00:00:00Z", nil)
	req.Header.Set("Authorization", "Bearer pat-na1-example")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var page struct {
		Results []struct {
			ID, Status                     string
			LatestMessageReceivedTimestamp string
		}
		Paging *struct{}
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		panic(err)
	}
	th := page.Results[0]
	fmt.Println(th.ID == id, th.Status, th.LatestMessageReceivedTimestamp, page.Paging == nil)
	// Output: true OPEN 2024-03-01T09:16:00Z true
}

// Faults make the next matching requests fail, here HubSpot's two 429s and
// then a truncated body, before the API answers normally again.
func ExampleServer_InjectFault() {
	sim := hubspotsim.New(hubspotsim.Config{})
	sim.AddAccount("24000001", "pat-na1-example")
	sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointThreads, Status: http.StatusTooManyRequests})
	sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointThreads, Status: http.StatusTooManyRequests, Policy: hubspotsim.PolicyDaily})
	sim.InjectFault(hubspotsim.Fault{Endpoint: hubspotsim.EndpointThreads, Status: http.StatusOK, Body: `{"results": [`})

	srv := httptest.NewServer(sim)
	defer srv.Close()
	for range 4 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/conversations/v3/conversations/threads", nil)
		req.Header.Set("Authorization", "Bearer pat-na1-example")
		resp, err := srv.Client().Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			var rl struct{ PolicyName, Message string }
			_ = json.Unmarshal(body, &rl)
			fmt.Println(resp.StatusCode, rl.PolicyName, rl.Message)
			continue
		}
		fmt.Printf("%d %s\n", resp.StatusCode, bytes.TrimSpace(body))
	}
	// Output:
	// 429 TEN_SECONDLY_ROLLING You have reached your ten_secondly_rolling limit.
	// 429 DAILY You have reached your daily limit.
	// 200 {"results": [
	// 200 {"results":[]}
}
