// Package olx reads an OLX user's chat inbox through the OLX Partner API v2
// (olx.pl, .bg, .ro, .pt, .ua, .kz): threads from GET /threads, walked by
// offset and limit, messages from GET /threads/{id}/messages. Every request
// carries the user's OAuth token as "Authorization: Bearer" and the
// mandatory "Version: 2.0", and no Content-Type (OLX refuses one on GET).
//
// OLX has no change filter, so every walk reads the whole thread list and
// compares total_count and unread_count with what was stored; only threads
// whose counts moved cost a message request. The list's order is not
// documented and probably follows last activity, so threads shift while a
// walk pages through it: each page after the first re-reads the last thread
// of the page before, and a thread other than that one in its place means
// the list moved (Page.Drift), upon which the engine walks again. OLX does
// not say when a reply is needed; the engine derives it from message types
// ("received" is inbound, "sent" outbound).
//
// The base URL is the country site, https://www.olx.pl; /api/partner is
// added unless the base URL already ends with it. Its options are declared
// in Options; Provider registers it.
package olx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "olx"

// Defaults of the options.
const (
	DefaultPageSize        = 50
	DefaultMessagePageSize = 100
	// DefaultRequestsPerSecond: OLX has request limits but publishes no
	// numbers, and every walk is a full scan; stay modest.
	DefaultRequestsPerSecond = 10
)

// Options are the settings of OLX accounts.
var Options = api.Options{optZone, optPageSize, optMessagePageSize, optEndOfList, optOffsetBase}

var (
	optZone            = api.ZoneOption("timezone", "UTC", "zone of OLX's zone-less times, e.g. `Europe/Warsaw` for olx.pl")
	optPageSize        = api.IntOption("page_size", DefaultPageSize, 2, 1000, "threads per list request")
	optMessagePageSize = api.IntOption("message_page_size", DefaultMessagePageSize, 1, 1000, "messages per message request")
	optEndOfList       = api.ChoiceOption("end_of_list", "short", []string{"short", "empty"},
		"`short` ends a list at its first page shorter than its limit, as olx.md infers, `empty` only at a page that brings nothing new, for an API that caps the limit silently")
	optOffsetBase = api.IntOption("offset_base", 0, 0, 1, "the offset of a list's first element")
)

// features: full scans of an offset-paginated list that moves, all
// messages of a thread at once, reply-needed derived by the engine.
var features = pollers.Features{
	OffsetPagination:  true,
	RequestsPerSecond: DefaultRequestsPerSecond,
}

// Provider registers OLX.
var Provider = api.Registration{Name: Name, Title: "OLX", Options: Options, Features: features, Build: build}

// Client reads one OLX user's threads.
type Client struct {
	base        *url.URL // ends with /api/partner
	token       string
	loc         *time.Location
	pageSize    int
	msgPageSize int
	endOnEmpty  bool
	offsetBase  int
	http        *http.Client
}

// New is the pollers.Factory of OLX accounts: Provider's, which
// validates the options before it builds the client.
var New pollers.Factory = Provider.New

func build(a api.Account) (pollers.Provider, error) {
	o, base := a.Values, a.Base
	if !strings.HasSuffix(base.Path, "/api/partner") {
		base = base.JoinPath("api", "partner")
	}
	return &Client{
		base: base, token: a.Token, http: a.HTTP,
		loc: optZone.Get(o), pageSize: optPageSize.Get(o), msgPageSize: optMessagePageSize.Get(o),
		endOnEmpty: optEndOfList.Get(o) == "empty", offsetBase: optOffsetBase.Get(o),
	}, nil
}

// Features are those of every OLX account.
func (c *Client) Features() pollers.Features { return features }

// get sends one GET with OLX's headers and decodes the JSON answer.
func (c *Client) get(ctx context.Context, u *url.URL, out any) error {
	req, err := pollers.NewRequest(ctx, u.String())
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Version", "2.0")
	return pollers.GetJSON(c.http, req, out)
}

func (c *Client) pageURL(path []string, offset, limit int) *url.URL {
	u := c.base.JoinPath(path...)
	u.RawQuery = "offset=" + strconv.Itoa(offset+c.offsetBase) + "&limit=" + strconv.Itoa(limit)
	return u
}

// A page token is "<index>:<id>": the 0-based index of the next thread to
// read and the id of the thread read last, which the next page reads
// again to check that the list has not shifted under the walk.
func pageToken(next int, last string) string { return strconv.Itoa(next) + ":" + last }

func parseToken(tok string) (next int, last string, ok bool) {
	n, last, found := strings.Cut(tok, ":")
	next, err := strconv.Atoi(n)
	if !found || err != nil || next < 1 || last == "" {
		return 0, "", false
	}
	return next, last, true
}

// ListThreads reads one page of GET /threads. After the first page it
// starts one thread early, at the thread the previous page ended with: if
// another thread is there, threads were added, removed or reordered before
// that point, and one may have been skipped, which Page.Drift reports. A
// shift the other way shows the engine a thread twice, which it detects
// itself.
func (c *Client) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	from, boundary := 0, ""
	if q.Token != "" {
		next, last, ok := parseToken(q.Token)
		if !ok {
			return pollers.Page{}, fmt.Errorf("%w: %.40q is not an OLX page token", pollers.ErrTokenExpired, q.Token)
		}
		from, boundary = next-1, last
	}
	u := c.pageURL([]string{"threads"}, from, c.pageSize)
	var body list[thread]
	if err := c.get(ctx, u, &body); err != nil {
		return pollers.Page{}, err
	}
	got := body.Items
	fresh := got
	var page pollers.Page
	if boundary != "" {
		if len(got) > 0 && string(got[0].ID) == boundary {
			fresh = got[1:]
		} else {
			page.Drift = true
		}
	}
	page.Items = make([]pollers.Item, 0, len(fresh))
	for i := range fresh {
		it, err := fresh[i].item(c.loc)
		if err != nil {
			return pollers.Page{}, fmt.Errorf("GET %s: thread %d (id %q): %w", pollers.RedactURL(u), i+len(got)-len(fresh), fresh[i].ID, err)
		}
		page.Items = append(page.Items, it)
	}
	end := len(got) < c.pageSize
	if c.endOnEmpty {
		end = len(fresh) == 0
	}
	if !end {
		page.Next = pageToken(from+len(got), string(got[len(got)-1].ID))
	}
	return page, nil
}

// Messages reads every message of the thread from GET
// /threads/{id}/messages, page by page until a short page (or an empty one,
// with end_of_list=empty) or until the thread's total_count is reached, and
// returns them oldest first without duplicates.
func (c *Client) Messages(ctx context.Context, it *pollers.Item, _ pollers.MessageCursor) ([]events.Message, error) {
	total, _ := strconv.Atoi(it.Ref)
	var all []message
	seen := make(map[api.ID]struct{})
	var where string
	// The page token is the offset of the next page.
	err := api.Pages(func(tok string) (string, string, error) {
		offset, _ := strconv.Atoi(tok)
		u := c.pageURL([]string{"threads", it.Thread.ID, "messages"}, offset, c.msgPageSize)
		where = "GET " + pollers.RedactURL(u)
		var body list[message]
		if err := c.get(ctx, u, &body); err != nil {
			return "", where, err
		}
		added := 0
		for _, m := range body.Items {
			if _, dup := seen[m.ID]; !dup {
				seen[m.ID] = struct{}{}
				added++
			}
		}
		all = append(all, body.Items...)
		n := len(body.Items)
		if n == 0 || (n < c.msgPageSize && !c.endOnEmpty) || (total > 0 && len(seen) >= total) {
			return "", where, nil
		}
		if added == 0 {
			return "", where, fmt.Errorf("%s: %w: thread %s: the page repeats messages already read (offset ignored?)", where, pollers.ErrMalformed, it.Thread.ID)
		}
		return strconv.Itoa(offset + n), where, nil
	})
	if err != nil {
		var he *pollers.HTTPError
		if errors.As(err, &he) && he.Status == http.StatusNotFound {
			// Deleted between the list and the fetch, or a thread OLX
			// lists but will not show.
			return nil, fmt.Errorf("thread %s: %w: %w", it.Thread.ID, pollers.ErrThreadGone, err)
		}
		return nil, err
	}
	msgs, err := mapMessages(all, c.loc, interlocutor(it))
	if err != nil {
		return nil, fmt.Errorf("%s: thread %s: %w", where, it.Thread.ID, err)
	}
	return msgs, nil
}
