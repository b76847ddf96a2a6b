package pollerstest

import (
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/pollers/hubspot"
	"github.com/threadsync/threadsync/pollers/hubspot/hubspotsim"
	"github.com/threadsync/threadsync/pollers/mirakl"
	"github.com/threadsync/threadsync/pollers/mirakl/miraklsim"
	"github.com/threadsync/threadsync/pollers/olx"
	"github.com/threadsync/threadsync/pollers/olx/olxsim"
	"github.com/threadsync/threadsync/pollers/partizap"
	"github.com/threadsync/threadsync/pollers/partizap/partizapsim"
	"github.com/threadsync/threadsync/pollers/selfcommunity"
	"github.com/threadsync/threadsync/pollers/selfcommunity/selfcommunitysim"
)

// The simulators' accounts every harness account reads.
const (
	// MiraklShop is the Mirakl shop.
	MiraklShop = "2001"
	// OLXUser is the OLX user, and OLXZone where the OLX simulator writes
	// its zone-less times: the suite then checks that the client reads
	// them in the account's timezone.
	OLXUser = "seller"
	OLXZone = "Europe/Warsaw"
	// HubSpotPortal is the HubSpot account.
	HubSpotPortal = "24000001"
	// PartizapVendor is the Partizap vendor's user id.
	PartizapVendor = 5
	// SelfCommunityOwner is the username of the SelfCommunity user.
	SelfCommunityOwner = "community_owner"
)

// The simulators of the five providers, for SimHarness. The rates of the
// providers with a default pace make the suite wait, not test more: every
// changed thread costs a message request.
var (
	Mirakl = Sim[*miraklsim.Server]{
		Name: mirakl.Name, Factory: mirakl.New, Account: MiraklShop, Token: RandomToken("mirakl-key-", 16),
		New:          func() *miraklsim.Server { return miraklsim.New(miraklsim.Config{}) },
		TokenRefusal: http.StatusBadRequest,
	}
	OLX = Sim[*olxsim.Server]{
		Name: olx.Name, Factory: olx.New, Account: OLXUser, Token: RandomToken("olx-token-", 16),
		New: func() *olxsim.Server {
			loc, err := time.LoadLocation(OLXZone)
			if err != nil {
				panic(err)
			}
			return olxsim.New(olxsim.Config{Location: loc})
		},
		Options: map[string]string{"requests_per_second": "500"},
		Remove:  (*olxsim.Server).DeleteThread,
	}
	HubSpot = Sim[*hubspotsim.Server]{
		Name: hubspot.Name, Factory: hubspot.New, Account: HubSpotPortal, Token: RandomToken("pat-na1-", 16),
		// HubSpot stamps events to the millisecond and, when many come in
		// the same millisecond, hands out later ones: a burst of seeded
		// events runs the simulator's clock ahead of threadsync's, and
		// every walk would then look at them again. A simulator clock a
		// minute behind keeps the suite's cost checks about threadsync,
		// not about skew.
		New: func() *hubspotsim.Server {
			return hubspotsim.New(hubspotsim.Config{Now: func() time.Time { return time.Now().Add(-time.Minute) }})
		},
		RealTime: func() *hubspotsim.Server { return hubspotsim.New(hubspotsim.Config{}) },
		Options:  map[string]string{"requests_per_second": "1000"},
		Remove: func(s *hubspotsim.Server, portal, threadID string) {
			s.SetArchived(portal, threadID, true)
		},
		Close: func(s *hubspotsim.Server, portal, threadID string) {
			s.SetStatus(portal, threadID, hubspotsim.StatusClosed, time.Time{})
		},
		TokenRefusal: http.StatusBadRequest,
	}
	SelfCommunity = Sim[*selfcommunitysim.Server]{
		Name: selfcommunity.Name, Factory: selfcommunity.New, Account: SelfCommunityOwner, Token: RandomToken("sc", 15),
		New:          func() *selfcommunitysim.Server { return selfcommunitysim.New(selfcommunitysim.Config{}) },
		Options:      map[string]string{"requests_per_second": "1000"},
		Remove:       (*selfcommunitysim.Server).HideThread,
		TokenRefusal: http.StatusNotFound,
	}
)

// Partizap is the Partizap simulator in the shape cfg gives it, read with
// options on top of the harness's own, so one suite can cover the API
// shapes partizap.md leaves open.
func Partizap(cfg partizapsim.Config, options map[string]string) Sim[*partizapsim.Server] {
	opts := map[string]string{"requests_per_second": "1000"}
	maps.Copy(opts, options)
	return Sim[*partizapsim.Server]{
		Name: partizap.Name, Factory: partizap.New, Account: strconv.Itoa(PartizapVendor), Token: RandomToken("sess-", 16),
		New:          func() *partizapsim.Server { return partizapsim.New(cfg) },
		Options:      opts,
		TokenRefusal: http.StatusUnprocessableEntity,
	}
}

// Harnesses are the five providers' harnesses, in their default shapes.
func Harnesses() []Harness {
	return []Harness{
		NewSimHarness(Mirakl),
		NewSimHarness(OLX),
		NewSimHarness(SelfCommunity),
		NewSimHarness(Partizap(partizapsim.Config{}, nil)),
		NewRealTimeHarness(HubSpot),
	}
}
