package pollers_test

import (
	"strings"
	"testing"

	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/mirakl"
)

// Check validates accounts as New does, with nothing to connect to.
func TestCheckValidatesWithoutAStore(t *testing.T) {
	t.Parallel()
	cfg := pollers.Config{Providers: map[string]pollers.Factory{mirakl.Name: mirakl.New}}
	ok := pollers.Account{Provider: mirakl.Name, ID: "shop-1", BaseURL: "https://mirakl.example", Token: "key-0123",
		Options: map[string]string{"quota": "portal-1"}}
	if err := pollers.Check(cfg, []pollers.Account{ok}); err != nil {
		t.Fatalf("a valid account, its quota unchecked for lack of a store: %v", err)
	}
	bad := ok
	bad.ID, bad.Options = "shop-2", map[string]string{"page_size": "1000"}
	for _, tc := range []struct {
		accts []pollers.Account
		want  string
	}{
		{[]pollers.Account{ok, bad}, "page_size"},
		{[]pollers.Account{ok, ok}, "listed twice"},
		{[]pollers.Account{{Provider: "nope", ID: "x", BaseURL: "https://x.example", Token: "key-0123"}}, "unknown provider"},
	} {
		err := pollers.Check(cfg, tc.accts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.accts, err, tc.want)
		}
	}
	// Every bad account is named, not only the first.
	bad2 := bad
	bad2.ID = "shop-3"
	if err := pollers.Check(cfg, []pollers.Account{bad, ok, bad2}); err == nil || !strings.Contains(err.Error(), "shop-2") || !strings.Contains(err.Error(), "shop-3") {
		t.Errorf("two bad accounts: %v, want both named", err)
	}
	if err := pollers.Check(pollers.Config{}, []pollers.Account{ok}); err == nil {
		t.Error("no providers: no error")
	}
}
