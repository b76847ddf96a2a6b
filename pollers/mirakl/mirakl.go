// Package mirakl reads a Mirakl Marketplace Platform shop inbox: threads
// from M11 (GET /api/inbox/threads) walked with updated_since and
// page_token, messages from M11's with_messages or, for long threads, M10
// (GET /api/inbox/threads/{id}). Mirakl states when a shop reply is needed
// (metadata.shop_reply_needed_since), so ReplyNeeded follows it.
//
// Options: shop_id (sent as shop_id on every call), page_size (1-100,
// default 100), entity_type (only threads of that type), overlap and
// requests_per_second (see package pollers).
package mirakl

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
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "mirakl"

// DefaultOverlap is how far behind the newest update seen a walk starts,
// for threads updated at the same instant or written late.
const DefaultOverlap = time.Minute

// Client reads one shop's inbox.
type Client struct {
	base       *url.URL
	key        string
	shopID     string
	pageSize   int
	entityType string
	http       *http.Client
}

var _ pollers.Provider = (*Client)(nil)

// New is the pollers.Factory of Mirakl accounts.
func New(a pollers.Account, client *http.Client) (pollers.Provider, error) {
	base, err := url.Parse(strings.TrimRight(a.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	c := &Client{base: base, key: a.Token, pageSize: 100, http: client}
	for k, v := range a.Options {
		switch k {
		case "shop_id":
			if _, err := strconv.ParseUint(v, 10, 63); err != nil {
				return nil, fmt.Errorf("option shop_id %q must be an integer", v)
			}
			c.shopID = v
		case "page_size":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return nil, fmt.Errorf("option page_size %q must be an integer from 1 to 100", v)
			}
			c.pageSize = n
		case "entity_type":
			c.entityType = v
		case "overlap", "requests_per_second", "quota":
		default:
			return nil, fmt.Errorf("unknown option %q (known: shop_id, page_size, entity_type, overlap, requests_per_second, quota)", k)
		}
	}
	return c, nil
}

// Features: incremental by updated_since, full message lists, stated reply-needed.
func (c *Client) Features() pollers.Features {
	return pollers.Features{
		IncrementalList:   true,
		Overlap:           DefaultOverlap,
		ReplyNeededStated: true,
		// M10/M11 are meant for on-page use; stay well below any limit.
		RequestsPerSecond: 20,
	}
}

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
		var he *pollers.HTTPError
		if q.Token != "" && errors.As(err, &he) && he.Status == http.StatusBadRequest {
			return pollers.Page{}, fmt.Errorf("%w: %w", pollers.ErrTokenExpired, err)
		}
		return pollers.Page{}, err
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
