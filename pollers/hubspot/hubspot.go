// Package hubspot reads a HubSpot Conversations inbox through the
// Conversations API v3.
//
// Threads come from GET /conversations/v3/conversations/threads, paged with
// the opaque `after` cursor (paging.next.after, absent on the last page).
// Incremental walks ask for sort=latestMessageTimestamp with
// latestMessageTimestampAfter set to the engine's watermark minus the
// overlap, which HubSpot returns in ascending order; initial walks and
// sweeps list every thread in id order, and their watermark stops at the
// walk's start, so a thread that changes after being listed is found by the
// next incremental walk. Messages of new or changed threads
// come from GET .../threads/{id}/messages, which HubSpot returns newest
// first: the client pages only until it reaches the newest message already
// seen and returns the rest oldest first. Only entries of type MESSAGE are
// messages; internal comments, welcome messages and system entries are
// skipped. direction INCOMING is inbound, OUTGOING outbound, and the engine
// derives ReplyNeeded from that (HubSpot states no reply-needed flag).
//
// The token is sent as Authorization: Bearer: a private-app token or an
// OAuth access token with the conversations.read scope.
//
// Rate limits: a 429 names its policy in policyName. The burst window
// (TEN_SECONDLY_ROLLING) is retried after Retry-After when HubSpot sends
// one, otherwise after BurstRetry; the DAILY limit pauses the account until
// it resets at midnight in the HubSpot account's time zone (option
// timezone). Client.RetryAfter tells the engine both (pollers.RetryHinter),
// and the X-HubSpot-RateLimit-* headers slow the account before either
// runs out (the engine reads them; DailyReset says when the day ends).
//
// Its options are declared in Options; Provider registers it.
package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "hubspot"

// DefaultOverlap is how far behind the newest latestMessageTimestamp seen an
// incremental walk starts again: HubSpot does not say whether
// latestMessageTimestampAfter is inclusive, and messages written in the same
// second as the watermark, or indexed late, must not be lost.
const DefaultOverlap = time.Minute

// DefaultRequestsPerSecond keeps one account under HubSpot's smallest burst
// allowance (100 requests per 10 s for Free and Starter accounts) with room
// for the engine's burst of the same size.
const DefaultRequestsPerSecond = 9

// BurstRetry is the wait after a 429 of the 10-second window that carries
// no Retry-After: by then the rolling window has passed entirely.
const BurstRetry = 10 * time.Second

const threadsPath = "/conversations/v3/conversations/threads"

// Options are the settings of HubSpot accounts.
var Options = api.Options{optInboxIDs, optIncludeArchived, optPageSize, optMessagePageSize, optZone, optOriginalContent}

var (
	optInboxIDs = &api.Option[[]string]{
		Name: "inbox_ids", Doc: "only threads of these inboxes, sent as repeated `inboxId`; without it, every inbox",
		Want: "comma-separated inbox ids", Parse: inboxIDs,
	}
	optIncludeArchived = api.BoolOption("include_archived", false,
		"`true` also reads the archived threads, which the API lists only with `archived=true`, after the active ones")
	optPageSize        = api.IntOption("page_size", 100, 1, 100, "threads per list page")
	optMessagePageSize = api.IntOption("message_page_size", 100, 1, 100, "messages per message page")
	optZone            = api.ZoneOption("timezone", "UTC", "the HubSpot account's zone, where the daily limit resets at midnight")
	optOriginalContent = api.BoolOption("original_content", true,
		"`false` keeps the truncated text of long messages instead of reading `…/original-content`")
)

// inboxIDs reads inbox_ids: integers, repeats and blanks dropped.
func inboxIDs(v string) ([]string, error) {
	var ids []string
	for id := range strings.SplitSeq(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if _, err := strconv.ParseUint(id, 10, 63); err != nil {
			return nil, fmt.Errorf("%q is not an inbox id", id)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("names no inbox")
	}
	return ids, nil
}

// features: incremental by latestMessageTimestamp, keyset-like cursors,
// messages after a cursor, reply-needed derived from directions.
var features = pollers.Features{
	IncrementalList:   true,
	Overlap:           DefaultOverlap,
	MessageCursor:     true,
	RequestsPerSecond: DefaultRequestsPerSecond,
}

// Provider registers HubSpot.
var Provider = api.Registration{Name: Name, Title: "HubSpot", Options: Options, Features: features, Build: build}

// Client reads one HubSpot account's conversations inbox.
type Client struct {
	base            *url.URL
	token           string
	http            *http.Client
	inboxIDs        []string
	includeArchived bool
	pageSize        int
	msgPageSize     int
	loc             *time.Location
	originalContent bool
	now             func() time.Time
}

// New is the pollers.Factory of HubSpot accounts: Provider's, which
// validates the options before it builds the client.
var New pollers.Factory = Provider.New

func build(a api.Account) (pollers.Provider, error) {
	o := a.Values
	return &Client{
		base: a.Base, token: a.Token, http: a.HTTP, now: time.Now,
		inboxIDs: optInboxIDs.Get(o), includeArchived: optIncludeArchived.Get(o),
		pageSize: optPageSize.Get(o), msgPageSize: optMessagePageSize.Get(o),
		loc: optZone.Get(o), originalContent: optOriginalContent.Get(o),
	}, nil
}

// Features are those of every HubSpot account.
func (c *Client) Features() pollers.Features { return features }

// get sends one GET and decodes its JSON body. It returns where the request
// went (method and redacted URL), for errors about the body.
func (c *Client) get(ctx context.Context, u *url.URL, q url.Values, out any) (string, error) {
	u.RawQuery = q.Encode()
	where := "GET " + pollers.RedactURL(u)
	req, err := pollers.NewRequest(ctx, u.String())
	if err != nil {
		return where, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if err := pollers.GetJSON(c.http, req, out); err != nil {
		return where, c.rateLimited(err)
	}
	return where, nil
}

func (c *Client) threadsURL(elem ...string) *url.URL {
	u := c.base.JoinPath(threadsPath)
	if len(elem) > 0 {
		u = u.JoinPath(elem...)
	}
	return u
}

// ListThreads returns one page of the thread list. The page token carries
// the whole query of the walk (HubSpot wants every parameter repeated with
// `after`), so a walk resumed after a restart asks exactly what it asked
// before. Walks in id order (initial walks, sweeps) do not list a thread
// again when it changes behind them; the engine keeps the next walk's
// watermark at this walk's start, so such a change is not lost.
func (c *Client) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	var v url.Values
	if q.Token != "" {
		var err error
		if v, err = decodeToken(q.Token); err != nil {
			return pollers.Page{}, fmt.Errorf("%w: %w", pollers.ErrTokenExpired, err)
		}
	} else {
		v = c.firstQuery(q)
	}
	var body threadList
	where, err := c.get(ctx, c.threadsURL(), v, &body)
	if err != nil {
		// HubSpot answers 400 to a cursor it no longer knows.
		return pollers.Page{}, api.TokenRefused(err, v.Get("after"), http.StatusBadRequest)
	}
	if body.Results == nil {
		return pollers.Page{}, fmt.Errorf("%s: %w: no results array", where, pollers.ErrMalformed)
	}
	page := pollers.Page{Items: make([]pollers.Item, 0, len(body.Results))}
	for i := range body.Results {
		it, err := body.Results[i].item()
		if err != nil {
			return pollers.Page{}, fmt.Errorf("%s: thread %d (%q): %w", where, i, body.Results[i].ID, err)
		}
		page.Items = append(page.Items, it)
	}
	switch after := body.after(); {
	case after != "":
		next := cloneValues(v)
		next.Set("after", after)
		page.Next = encodeToken(next)
	case c.includeArchived && v.Get("archived") != "true":
		// The active threads are done; the archived ones follow in the
		// same walk, with the same filters.
		next := cloneValues(v)
		next.Del("after")
		next.Set("archived", "true")
		page.Next = encodeToken(next)
	}
	return page, nil
}

// firstQuery is the query of a walk's first page.
func (c *Client) firstQuery(q pollers.Query) url.Values {
	v := url.Values{}
	v.Set("limit", strconv.Itoa(c.pageSize))
	// Threads linked to a ticket say so; the ticket becomes the reference.
	v.Set("association", "TICKET")
	for _, id := range c.inboxIDs {
		v.Add("inboxId", id)
	}
	if !q.Since.IsZero() && q.Walk != pollers.WalkSweep {
		v.Set("sort", "latestMessageTimestamp")
		v.Set("latestMessageTimestampAfter", formatTime(q.Since))
	}
	return v
}

// formatTime writes a time as HubSpot does, rounded down to the
// millisecond: rounding down keeps a lower bound inclusive.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// Messages returns the thread's messages newer than after (all of them
// without a cursor), oldest first. HubSpot sends messages newest first by
// default, so paging stops at the first page that reaches back past the
// cursor; other messages at the cursor's instant are returned too and the
// engine keeps those it has not seen. Should HubSpot ever send a page oldest first,
// the early stop is off and every page is read.
func (c *Client) Messages(ctx context.Context, it *pollers.Item, after pollers.MessageCursor) ([]events.Message, error) {
	id := it.Thread.ID
	v := url.Values{}
	v.Set("limit", strconv.Itoa(c.msgPageSize))
	var got []fetched
	newestFirst := true
	err := api.Pages(func(tok string) (string, string, error) {
		if tok != "" {
			v.Set("after", tok)
		}
		var body messageList
		where, err := c.get(ctx, c.threadsURL(url.PathEscape(id), "messages"), v, &body)
		if err != nil {
			return "", where, err
		}
		if body.Results == nil {
			return "", where, fmt.Errorf("%s: %w: no results array", where, pollers.ErrMalformed)
		}
		start := len(got)
		for i := range body.Results {
			m := &body.Results[i]
			at, err := parseTime(m.CreatedAt)
			if err != nil {
				return "", where, fmt.Errorf("%s: message %d (%q): createdAt: %w", where, i, m.ID, err)
			}
			got = append(got, fetched{m: m, at: at, where: where, index: i})
		}
		for i := max(start, 1); i < len(got); i++ {
			if got[i].at.After(got[i-1].at) {
				newestFirst = false
			}
		}
		if newestFirst && !after.At.IsZero() && len(got) > 0 && got[len(got)-1].at.Before(after.At) {
			return "", where, nil // this page reached messages already seen
		}
		return body.after(), where, nil
	})
	if err != nil {
		return nil, err
	}
	if newestFirst {
		slices.Reverse(got)
	}
	slices.SortStableFunc(got, func(a, b fetched) int { return a.at.Compare(b.at) })

	out := make([]events.Message, 0, len(got))
	for _, f := range got {
		if !isMessage(f.m.Type) || (!after.At.IsZero() && f.at.Before(after.At)) ||
			(f.at.Equal(after.At) && string(f.m.ID) == after.ID) {
			continue
		}
		em, err := f.m.message(f.at)
		if err != nil {
			return nil, fmt.Errorf("%s: message %d (%q): %w", f.where, f.index, f.m.ID, err)
		}
		if c.originalContent && truncated(f.m.TruncationStatus) {
			if em.Text, err = c.original(ctx, id, em.ID, em.Text); err != nil {
				return nil, err
			}
		}
		out = append(out, em)
	}
	return out, nil
}

// fetched is a message as read, with its parsed time and where it came from.
type fetched struct {
	m     *message
	at    time.Time
	where string
	index int
}

// original fetches the untruncated text of a message. A message HubSpot
// no longer has (404) keeps the truncated text rather than stalling the
// account.
func (c *Client) original(ctx context.Context, threadID, msgID, text string) (string, error) {
	var body originalContent
	where, err := c.get(ctx, c.threadsURL(url.PathEscape(threadID), "messages", url.PathEscape(msgID), "original-content"), url.Values{}, &body)
	var he *pollers.HTTPError
	switch {
	case errors.As(err, &he) && he.Status == http.StatusNotFound:
		return text, nil
	case err != nil:
		return "", err
	case body.Text == nil:
		return "", fmt.Errorf("%s: %w: no text", where, pollers.ErrMalformed)
	}
	return *body.Text, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// tokenPrefix versions the page-token format; a token without it (from an
// older format) restarts the walk.
const tokenPrefix = "2:"

// encodeToken makes the engine's page token: the walk's start (Unix
// milliseconds) and the next page's query.
func encodeToken(v url.Values) string {
	return tokenPrefix + v.Encode()
}

func decodeToken(tok string) (url.Values, error) {
	query, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return nil, errors.New("page token of an unknown format")
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		return nil, errors.New("page token does not parse")
	}
	return v, nil
}
