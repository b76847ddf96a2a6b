package olxsim_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/sim/simtest"
)

// A test serves the simulator, an http.Handler, on an httptest.Server
// (simtest.Get does for one request) and uses its URL as the OLX base URL.
// Times come out as OLX writes them: wall clock in the site's zone,
// without the zone.
func Example() {
	warsaw, _ := time.LoadLocation("Europe/Warsaw")
	sim := olxsim.New(olxsim.Config{Location: warsaw})
	sim.AddAccount("seller", "access-token")
	at := time.Date(2024, 3, 2, 13, 5, 11, 0, time.UTC)
	th := sim.AddThread("seller", olxsim.NewThread{AdvertID: 880011, InterlocutorID: 5501, At: at})
	sim.AddMessage("seller", th, olxsim.Interlocutor, "Is it still available?", at)

	// Version is mandatory.
	body := simtest.Get(sim, "/api/partner/threads?offset=0&limit=10", "Authorization: Bearer access-token", "Version: 2.0")
	fmt.Printf("%s", bytes.Replace(body, []byte(th), []byte("<id>"), 1))
	// Output:
	// {"data":[{"id":<id>,"advert_id":880011,"interlocutor_id":5501,"total_count":1,"unread_count":1,"created_at":"2024-03-02 14:05:11","is_favourite":false}]}
}
