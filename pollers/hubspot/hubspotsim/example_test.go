package hubspotsim_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// A test serves the simulator, an http.Handler, on an httptest.Server
// (simtest.Get does for one request) and uses its URL as the HubSpot base
// URL, here to list threads by their latest message.
func Example() {
	sim := hubspotsim.New(hubspotsim.Config{})
	sim.AddAccount("24000001", "pat-na1-example")
	at := time.Date(2024, 3, 1, 9, 15, 0, 0, time.UTC)
	id := sim.AddThread("24000001", hubspotsim.NewThread{Visitor: "Jane", At: at})
	sim.AddMessage("24000001", id, hubspotsim.Visitor, "Any update on my order?", at.Add(time.Minute))
	info, _ := sim.Thread("24000001", id)

	var page struct {
		Results []struct {
			ID, Status                     string
			LatestMessageReceivedTimestamp string
		}
		Paging *struct{}
	}
	body := simtest.Get(sim, "/conversations/v3/conversations/threads?sort=latestMessageTimestamp&latestMessageTimestampAfter=2024-03-01T00:00:00Z",
		"Authorization: Bearer pat-na1-example")
	if err := json.Unmarshal(body, &page); err != nil {
		panic(err)
	}
	th := page.Results[0]
	fmt.Println(th.ID == id, th.Status, th.LatestMessageReceivedTimestamp, page.Paging == nil, info.ReplyNeeded)
	// Output: true OPEN 2024-03-01T09:16:00Z true true
}
