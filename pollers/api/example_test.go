package api_test

import (
	"fmt"

	"github.com/threadsync/threadsync/pollers/api"
)

// A provider declares its options once; the declaration validates an
// account's options, with every problem named, and reads their values.
func ExampleOptions_Parse() {
	pageSize := api.IntOption("page_size", 100, 1, 100, "threads per page")
	zone := api.ZoneOption("timezone", "UTC", "zone of zone-less times")
	opts := api.Options{pageSize, zone}

	v, err := opts.Parse(map[string]string{"timezone": "Europe/Warsaw", "requests_per_second": "5"})
	fmt.Println(pageSize.Get(v), zone.Get(v), err)

	_, err = opts.Parse(map[string]string{"page_size": "0", "timezone": "Local", "shop_id": "1"})
	fmt.Println(err)
	// Output:
	// 100 Europe/Warsaw <nil>
	// option page_size "0": want an integer from 1 to 100; option timezone "Local" (Local is the worker's host zone, not the provider's): want an IANA zone name, not Local; unknown option "shop_id" (known: page_size, timezone, overlap, requests_per_second, quota)
}

// Pages reads a list to its end; the page function fetches the page a
// token names and returns the next token.
func ExamplePages() {
	next := map[string]string{"": "p2", "p2": "p3", "p3": ""}
	err := api.Pages(func(tok string) (string, string, error) {
		fmt.Printf("page %q\n", tok)
		return next[tok], "GET https://api.example.com/messages?after=" + tok, nil
	})
	fmt.Println(err)

	err = api.Pages(func(tok string) (string, string, error) {
		return "same", "GET https://api.example.com/messages?after=" + tok, nil
	})
	fmt.Println(err)
	// Output:
	// page ""
	// page "p2"
	// page "p3"
	// <nil>
	// GET https://api.example.com/messages?after=same: malformed response: page token "same" repeats within one read (a pagination loop)
}
