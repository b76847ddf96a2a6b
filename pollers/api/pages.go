package api

import (
	"errors"
	"fmt"
	"slices"

	"github.com/threadsync/threadsync/pollers"
)

// MaxPages bounds the pages of one read by Pages, against a list that
// never ends: far more than any real thread has.
const MaxPages = 10_000

// Pages reads a list page by page to its end, as a client reads a thread's
// messages. page is called with "" for the first page and then with each
// token it returned; it handles the page and returns the next page's token
// ("" after the last page, or to stop early) and where the request went
// ("GET <redacted URL>"), for errors. The read has the guards the engine
// keeps on the thread list (its walk in package pollers): a token that comes
// back within one read is a pagination loop, and a read of more than
// MaxPages pages an endless list; both fail as pollers.ErrMalformed,
// naming where the page went.
func Pages(page func(token string) (next, where string, err error)) error {
	seen := map[string]struct{}{}
	for tok, n := "", 1; ; n++ {
		next, where, err := page(tok)
		switch {
		case err != nil:
			return err
		case next == "":
			return nil
		case n == MaxPages:
			return fmt.Errorf("%s: %w: more than %d pages in one read (an endless next?)", where, pollers.ErrMalformed, MaxPages)
		}
		if _, again := seen[next]; again {
			return fmt.Errorf("%s: %w: page token %.40q repeats within one read (a pagination loop)", where, pollers.ErrMalformed, next)
		}
		seen[next] = struct{}{}
		tok = next
	}
}

// TokenRefused maps err, from a request that carried the page token token,
// to pollers.ErrTokenExpired when its status is one with which the
// provider refuses a token it no longer knows, so that the engine walks
// again from the start rather than failing the account for ever. An error
// of a request without a token is returned as it is: the first page has
// nothing to restart.
func TokenRefused(err error, token string, statuses ...int) error {
	var he *pollers.HTTPError
	if token != "" && errors.As(err, &he) && slices.Contains(statuses, he.Status) {
		return fmt.Errorf("%w: %w", pollers.ErrTokenExpired, err)
	}
	return err
}
