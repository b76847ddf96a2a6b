package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/threadsync/threadsync/pollers/api"
)

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	for i, c := range []struct {
		a, b string
		want int
	}{
		{"9", "10", -1}, {"10", "9", 1}, {"009", "9", 0}, {"100", "a", -1}, {"a", "b", -1}, {"b", "100", 1},
		{"18446744073709551616", "18446744073709551615", 1}, {"", "1", 1}, {"", "a", -1},
	} {
		if got := api.CompareIDs(c.a, c.b); got != c.want {
			t.Errorf("%d: CompareIDs(%q, %q) = %d, want %d", i, c.a, c.b, got, c.want)
		}
	}
	ids := []string{"10", "9", "0011", "abc", "100", "a91f0c2e7d", "-5"}
	slices.SortStableFunc(ids, api.CompareIDs)
	if got := strings.Join(ids, ","); got != "9,10,0011,100,-5,a91f0c2e7d,abc" {
		t.Fatalf("sorted %s", got)
	}
}
