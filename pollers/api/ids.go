package api

import (
	"cmp"
	"strings"
)

// CompareIDs is the one order of provider ids, for messages that share a
// timestamp (providers that keep whole seconds number messages as they
// come): ids that are both unsigned decimal integers compare by value, of
// any length and with leading zeros ignored (so "009" equals "9"); such an
// id sorts before any other; other ids compare bytewise. It is a total
// order, consistent with the engine's own tie-break of messages of one
// instant.
func CompareIDs(a, b string) int {
	na, nb := isDigits(a), isDigits(b)
	switch {
	case na && nb:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
