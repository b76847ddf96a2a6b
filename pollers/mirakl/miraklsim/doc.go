// Package miraklsim simulates the seller side of the Mirakl inbox API (M10
// thread, M11 thread list, M12 reply; mirakl.md), for developing, testing
// and benchmarking the Mirakl poller without a Mirakl instance. M11 orders
// threads by (date_updated, id) and pages by keyset, and every change makes
// date_updated later than any before, so a walk returns an updated thread
// again later and skips none; a page_token carries the whole query. What
// the reference leaves vague (error bodies, limit above 100, 403 for a
// foreign shop_id) is chosen here and marked so.
package miraklsim
