// Package mirakl reads a Mirakl Marketplace Platform shop inbox: threads
// from M11 (GET /api/inbox/threads) walked with updated_since and
// page_token, messages from M11's with_messages or, for long threads, M10
// (GET /api/inbox/threads/{id}). Mirakl states when a shop reply is needed
// (metadata.shop_reply_needed_since), so ReplyNeeded follows it.
//
// Its options are declared in Options; Provider registers it.
package mirakl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "mirakl"

// DefaultOverlap is how far behind the newest update seen a walk starts,
// for threads updated at the same instant or written late.
const DefaultOverlap = time.Minute

// Options are the settings of Mirakl accounts.
var Options = api.Options{optShopID, optPageSize, optEntityType}

var (
	optShopID = &api.Option[string]{
		Name: "shop_id", Doc: "sent on every call", Want: "an integer",
		Parse: func(v string) (string, error) {
			if _, err := strconv.ParseUint(v, 10, 63); err != nil {
				return "", api.ErrInvalidOption
			}
			return v, nil
		},
	}
	optPageSize   = api.IntOption("page_size", 100, 1, 100, "threads per M11 page")
	optEntityType = api.StringOption("entity_type", "only threads of that entity type")
)

// features: incremental by updated_since, full message lists, stated
// reply-needed.
var features = pollers.Features{
	IncrementalList:   true,
	Overlap:           DefaultOverlap,
	ReplyNeededStated: true,
	// M10/M11 are meant for on-page use; stay well below any limit.
	RequestsPerSecond: 20,
}

// Provider registers Mirakl.
var Provider = api.Registration{Name: Name, Title: "Mirakl", Options: Options, Features: features, Build: build}

// Client reads one shop's inbox.
type Client struct {
	base       *url.URL
	key        string
	shopID     string
	pageSize   int
	entityType string
	http       *http.Client
}

// New is the pollers.Factory of Mirakl accounts: Provider's, which
// validates the options before it builds the client.
var New pollers.Factory = Provider.New

func build(a api.Account) (pollers.Provider, error) {
	o := a.Values
	return &Client{
		base: a.Base, key: a.Token, http: a.HTTP,
		shopID: optShopID.Get(o), pageSize: optPageSize.Get(o), entityType: optEntityType.Get(o),
	}, nil
}

// Features are those of every Mirakl account.
func (c *Client) Features() pollers.Features { return features }

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	u := *c.base
	u.Path += path
	if c.shopID != "" {
		q.Set("shop_id", c.shopID)
	}
	u.RawQuery = q.Encode()
	req, err := pollers.NewRequest(ctx, u.String())
	if err != nil {
		return err
	}
	// The raw key, without "Bearer": Mirakl's shop_api_key scheme.
	req.Header.Set("Authorization", c.key)
	return pollers.GetJSON(c.http, req, out)
}

// ListThreads calls M11. Walks that mostly meet changed threads ask for the
// messages inline (the last 100 of each thread), which spares an M10 call
// per thread; reconciliation sweeps do not.
func (c *Client) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	v := url.Values{}
	if q.Token != "" {
		v.Set("page_token", q.Token)
	} else {
		v.Set("limit", strconv.Itoa(c.pageSize))
		if !q.Since.IsZero() {
			v.Set("updated_since", q.Since.UTC().Format(time.RFC3339Nano))
		}
		if c.entityType != "" {
			v.Set("entity_type", c.entityType)
		}
		if q.Walk != pollers.WalkSweep {
			v.Set("with_messages", "true")
		}
	}
	var body threadList
	if err := c.get(ctx, "/api/inbox/threads", v, &body); err != nil {
		// Mirakl answers 400 to a page token it no longer accepts.
		return pollers.Page{}, api.TokenRefused(err, q.Token, http.StatusBadRequest)
	}
	if body.Data == nil {
		return pollers.Page{}, fmt.Errorf("GET %s/api/inbox/threads: %w: no data array", pollers.RedactURL(c.base), pollers.ErrMalformed)
	}
	page := pollers.Page{Items: make([]pollers.Item, 0, len(body.Data)), Next: body.NextPageToken}
	for i := range body.Data {
		it, err := body.Data[i].item()
		if err != nil {
			return pollers.Page{}, fmt.Errorf("GET %s/api/inbox/threads: thread %d (%q): %w", pollers.RedactURL(c.base), i, body.Data[i].ID, err)
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// Messages calls M10, which returns every message of the thread.
func (c *Client) Messages(ctx context.Context, it *pollers.Item, _ pollers.MessageCursor) ([]events.Message, error) {
	var t thread
	if err := c.get(ctx, "/api/inbox/threads/"+url.PathEscape(it.Thread.ID), url.Values{}, &t); err != nil {
		return nil, err
	}
	if t.Messages == nil {
		return nil, fmt.Errorf("GET %s/api/inbox/threads/%s: %w: no messages array", pollers.RedactURL(c.base), it.Thread.ID, pollers.ErrMalformed)
	}
	return mapMessages(t.Messages)
}
