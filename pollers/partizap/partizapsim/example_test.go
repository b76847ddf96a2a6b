package partizapsim_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// A test serves the simulator, an http.Handler, on an httptest.Server
// (simtest.Get does for one request) and uses its URL as the Partizap
// base URL; the session goes in the PARTIZAP_SESSION cookie. Times come
// out in Moscow time, to the second.
func Example() {
	sim := partizapsim.New(partizapsim.Config{})
	sim.AddVendor(5, "vendor-5-session")
	at := time.Date(2024, 3, 5, 15, 20, 0, 0, time.UTC)
	id := sim.AddThread(5, partizapsim.NewThread{Buyer: "Ivan", Product: "BMW E46 front bumper", At: at})

	sim.AddMessage(5, id, partizapsim.Buyer, "Is it original?", at.Add(2*time.Minute))
	var page struct {
		Data []struct {
			Product     struct{ Title string }
			LastMessage struct {
				Text      string `json:"text"`
				CreatedAt string `json:"created_at"`
			} `json:"last_message"`
			UnreadCount int `json:"unread_count"`
		}
		Meta struct {
			HasMore bool `json:"has_more"`
		}
	}
	body := simtest.Get(sim, "/vendor/conversations?limit=20", "Cookie: PARTIZAP_SESSION=vendor-5-session")
	if err := json.Unmarshal(body, &page); err != nil {
		panic(err)
	}
	c := page.Data[0]
	fmt.Println(c.Product.Title, "|", c.LastMessage.Text, "|", c.LastMessage.CreatedAt, "| unread", c.UnreadCount, "| more", page.Meta.HasMore)
	// Output: BMW E46 front bumper | Is it original? | 2024-03-05T18:22:00+03:00 | unread 1 | more false
}
