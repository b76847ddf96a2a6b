package miraklsim_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// A test serves the simulator, an http.Handler, on an httptest.Server
// (simtest.Get does for one request) and uses its URL as the Mirakl base
// URL. The shop's key goes raw in Authorization, without Bearer.
func Example() {
	sim := miraklsim.New(miraklsim.Config{})
	sim.AddShop("2001", "shop-2001-key")
	at := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	id := sim.AddThread("2001", miraklsim.NewThread{Topic: "Delivery delay", Customer: "John D.", At: at})
	sim.AddMessage("2001", id, miraklsim.Customer, "Where is my parcel?", at)

	body := simtest.Get(sim, "/api/inbox/threads?updated_since=2024-03-01T00:00:00Z", "Authorization: shop-2001-key")
	var page struct {
		Data []struct {
			Topic    struct{ Value string }
			Metadata struct {
				ShopReplyNeededSince *string `json:"shop_reply_needed_since"`
			}
		}
		NextPageToken *string `json:"next_page_token"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		panic(err)
	}
	th := page.Data[0]
	fmt.Println(th.Topic.Value, *th.Metadata.ShopReplyNeededSince, page.NextPageToken == nil)
	// Output: Delivery delay 2024-03-01T08:00:00Z true
}
