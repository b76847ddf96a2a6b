package selfcommunitysim_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// A test serves the simulator, an http.Handler, on an httptest.Server
// (simtest.Get does for one request) and uses its URL as the community's
// base URL; the account's user id is the poller's user_id.
func Example() {
	sim := selfcommunitysim.New(selfcommunitysim.Config{})
	userID := sim.AddAccount("shop_owner", "owner-token")
	at := time.Date(2024, 3, 5, 17, 20, 2, 100, time.UTC)
	sim.AddThread("shop_owner", selfcommunitysim.NewThread{With: "maria", Text: "Is the meetup still on?", At: at})

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
	if err := json.Unmarshal(simtest.Get(sim, "/api/v2/pm/?limit=20", "Authorization: Bearer owner-token"), &page); err != nil {
		panic(err)
	}
	s := page.Results[0]
	fmt.Println(userID, page.Count, page.Next == nil, s.Sender.Username, s.Headline, s.LastMessageAt, s.ThreadStatus)
	// Output: 1 1 true maria Is the meetup still on? 2024-03-05T18:20:02+01:00 new
}
