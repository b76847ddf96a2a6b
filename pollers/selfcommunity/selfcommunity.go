// Package selfcommunity reads the private messages of one SelfCommunity
// community user: the inbox from the snippet list (GET /api/v2/pm/), walked
// by DRF limit/offset pages whose next links are followed as page tokens,
// and the messages of a changed thread from GET /api/v2/pm/?thread=<id>,
// asking with from_message only for what is new. SelfCommunity does not say
// when a reply is needed, so the engine derives it from message directions:
// the account owner's messages (user_id) are outbound, everyone else's
// inbound.
//
// Every call acts as the user of the token (Authorization: Bearer), so an
// account is one user's inbox; the snippet list has no date filter, so every
// walk reads the whole list, and a thread costs a message request only when
// its last_message_at changed.
//
// A next link is followed only while it stays on base_url's scheme, host and
// port: the token goes with every request, so a link elsewhere is a
// malformed page, never a request.
//
// Its options are declared in Options; Provider registers it.
package selfcommunity

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "selfcommunity"

// pmPath is the private-message endpoint, relative to base_url. The
// trailing slash matters: without it Django redirects, and the engine does
// not follow redirects.
const pmPath = "/api/v2/pm/"

// maxRewalks bounds how often a thread's messages are read again when
// their count changes between two pages of one read.
const maxRewalks = 2

// Options are the settings of SelfCommunity accounts.
var Options = api.Options{optUserID, optPageSize, optMessagePageSize, optZone, optRebaseNext}

var (
	optUserID = &api.Option[string]{
		Name: "user_id", Required: true,
		Doc:  "the account owner's SelfCommunity user id: their messages are outbound, and the API documents no \"who am I\" call",
		Want: "a positive integer",
		Parse: func(v string) (string, error) {
			if n, err := strconv.ParseUint(v, 10, 63); err != nil || n == 0 {
				return "", api.ErrInvalidOption
			}
			return v, nil
		},
	}
	optPageSize        = api.IntOption("page_size", 100, 1, 1000, "snippets per page, which the community may cap lower")
	optMessagePageSize = api.IntOption("message_page_size", 100, 1, 1000, "messages per page of a thread")
	optZone            = api.ZoneOption("timezone", "UTC", "zone of times sent without an offset")
	optRebaseNext      = api.BoolOption("rebase_next", false,
		"`true` follows a `next` link on another host by applying its query to `base_url`, for communities behind a proxy; otherwise such a link is an error")
)

// features: full scans of an offset-paginated list, new messages only.
var features = pollers.Features{
	// The snippet list has no date filter and no documented order.
	IncrementalList: false,
	// from_message returns the cursor message and what follows.
	MessageCursor: true,
	// Only thread_status ("new" = unseen by the user) exists, which is
	// not "awaiting a reply"; directions say it better.
	ReplyNeededStated: false,
	// limit/offset over a list that a new message reorders.
	OffsetPagination: true,
	// No limits are documented, only 429; stay modest.
	RequestsPerSecond: 10,
}

// Provider registers SelfCommunity.
var Provider = api.Registration{Name: Name, Title: "SelfCommunity", Options: Options, Features: features, Build: build}

// Client reads one user's private messages.
type Client struct {
	base        *url.URL // base_url, no trailing slash
	pm          *url.URL // base_url + /api/v2/pm/
	auth        string   // "Bearer <token>": secret
	userID      string
	pageSize    int
	msgPageSize int
	loc         *time.Location
	rebaseNext  bool
	http        *http.Client
}

// New is the pollers.Factory of SelfCommunity accounts: Provider's, which
// validates the options before it builds the client.
var New pollers.Factory = Provider.New

func build(a api.Account) (pollers.Provider, error) {
	o, base := a.Values, a.Base
	// The bearer token is the only credential sent.
	base.User = nil
	pm := *base
	pm.Path += pmPath
	if pm.RawPath != "" {
		pm.RawPath += pmPath
	}
	return &Client{
		base: base, pm: &pm, auth: "Bearer " + a.Token, http: a.HTTP,
		userID: optUserID.Get(o), pageSize: optPageSize.Get(o), msgPageSize: optMessagePageSize.Get(o),
		loc: optZone.Get(o), rebaseNext: optRebaseNext.Get(o),
	}, nil
}

// Features are those of every SelfCommunity account.
func (c *Client) Features() pollers.Features { return features }

// get sends an authenticated GET and decodes the JSON answer.
func (c *Client) get(ctx context.Context, u *url.URL, out any) error {
	req, err := pollers.NewRequest(ctx, u.String())
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", c.auth)
	return pollers.GetJSON(c.http, req, out)
}

// RetryAfter is the wait a 429 asks for: Retry-After, or, since DRF says
// the wait in the body even when a proxy drops the header, the seconds of
// its "Expected available in N seconds." (pollers.RetryHinter: the engine
// waits it out, in place or before the account's next poll).
func (c *Client) RetryAfter(he *pollers.HTTPError) time.Duration {
	if he.Status == http.StatusTooManyRequests && he.RetryAfter == 0 {
		return throttleWait(he.Body)
	}
	return he.RetryAfter
}

var throttleRE = regexp.MustCompile(`available in (\d+(?:\.\d+)?) seconds?`)

// throttleWait reads DRF's "Request was throttled. Expected available in 3
// seconds." detail; zero when the body says nothing of the kind.
func throttleWait(body string) time.Duration {
	m := throttleRE.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f <= 0 || f > 24*3600 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// ListThreads reads one page of snippets: the first with limit=page_size,
// the others from the previous page's next link, which is the page token.
func (c *Client) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	var u *url.URL
	if q.Token != "" {
		t, err := url.Parse(q.Token)
		if err != nil || !t.IsAbs() || !sameOrigin(t, c.base) {
			// Only a changed base_url or a damaged checkpoint gets here:
			// start the walk again rather than send the token elsewhere.
			return pollers.Page{}, fmt.Errorf("%w: %w: page token is not a URL on %s", pollers.ErrTokenExpired, pollers.ErrMalformed, origin(c.base))
		}
		t.User = nil
		u = t
	} else {
		first := *c.pm
		first.RawQuery = url.Values{"limit": {strconv.Itoa(c.pageSize)}}.Encode()
		u = &first
	}
	where := "GET " + pollers.RedactURL(u)
	var body snippetPage
	if err := c.get(ctx, u, &body); err != nil {
		// A page number or offset the API no longer serves.
		return pollers.Page{}, api.TokenRefused(err, q.Token, http.StatusNotFound, http.StatusBadRequest)
	}
	if body.Results == nil {
		return pollers.Page{}, fmt.Errorf("%s: %w: no results array", where, pollers.ErrMalformed)
	}
	next, err := c.next(body.Next, u, len(body.Results))
	if err != nil {
		return pollers.Page{}, fmt.Errorf("%s: %w", where, err)
	}
	page := pollers.Page{Items: make([]pollers.Item, 0, len(body.Results)), Next: next}
	for i := range body.Results {
		it, err := body.Results[i].item(c.userID, c.loc)
		if err != nil {
			return pollers.Page{}, fmt.Errorf("%s: thread %d (id %q): %w", where, i, body.Results[i].ID, err)
		}
		page.Items = append(page.Items, it)
	}

	// The page's count goes to the next page as its State: another count
	// there means threads were added or hidden during the walk, offsets
	// moved, and one may have slipped past the walk unseen.
	count := strconv.FormatInt(body.Count.N, 10)
	if q.Token != "" && q.State != "" && q.State != count {
		page.Drift = true
	}
	page.State = count
	return page, nil
}

// next validates a page's next link and returns it as the URL to request,
// or "" on the last page. A relative link is resolved against the page;
// one on another origin is an error, or with rebase_next its query on
// base_url.
func (c *Client) next(raw *string, cur *url.URL, results int) (string, error) {
	if raw == nil || *raw == "" {
		return "", nil
	}
	n, err := cur.Parse(*raw)
	if err != nil || (n.Scheme != "http" && n.Scheme != "https") {
		return "", fmt.Errorf("%w: next link is not an http(s) URL", pollers.ErrMalformed)
	}
	if !sameOrigin(n, c.base) {
		if !c.rebaseNext {
			return "", fmt.Errorf("%w: next link %s leaves %s (base_url), and the token would go with it; not followed (option rebase_next follows such links on base_url)",
				pollers.ErrMalformed, pollers.RedactURL(n), origin(c.base))
		}
		r := *c.pm
		r.RawQuery = n.RawQuery
		n = &r
	}
	n.User, n.Fragment = nil, ""
	s := n.String()
	if results == 0 || s == cur.String() {
		// A page that leads nowhere would loop for ever.
		return "", fmt.Errorf("%w: next link %s does not advance (page of %d results)", pollers.ErrMalformed, pollers.RedactURL(n), results)
	}
	return s, nil
}

// sameOrigin compares scheme, host and port, default ports included.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// Messages reads a thread's messages after the cursor: from_message is
// inclusive, so the cursor's own message comes back and is dropped. Pages
// are followed to the end; if the thread's count changes between pages
// (a message posted or deleted meanwhile) the read starts again, so no
// message slips between two offsets. Deleted and hidden messages are left
// out. The result is oldest first.
func (c *Client) Messages(ctx context.Context, it *pollers.Item, after pollers.MessageCursor) ([]events.Message, error) {
	q := url.Values{"thread": {it.Thread.ID}, "limit": {strconv.Itoa(c.msgPageSize)}}
	if _, err := strconv.ParseUint(after.ID, 10, 64); err == nil {
		q.Set("from_message", after.ID)
	}
	first := *c.pm
	first.RawQuery = q.Encode()
	var msgs []events.Message
	for attempt := 0; ; attempt++ {
		var moved bool
		var err error
		// The last attempt reads on whatever moves: the engine's own
		// time-and-id filter and the next poll catch what is left.
		if msgs, moved, err = c.messagePages(ctx, &first, it.Thread.ID, attempt == maxRewalks); err != nil {
			return nil, err
		}
		if !moved {
			break
		}
	}
	out := msgs[:0]
	for _, m := range msgs {
		if m.ID != after.ID {
			out = append(out, m)
		}
	}
	slices.SortStableFunc(out, func(a, b events.Message) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return api.CompareIDs(a.ID, b.ID)
	})
	return out, nil
}

// messagePages reads every page from first on. Unless tolerant, it stops
// and reports moved when the count changes on the way.
func (c *Client) messagePages(ctx context.Context, first *url.URL, threadID string, tolerant bool) (msgs []events.Message, moved bool, err error) {
	seen := make(map[string]struct{})
	count := int64(-1)
	u := first
	err = api.Pages(func(string) (string, string, error) {
		where := "GET " + pollers.RedactURL(u)
		var body messagePage
		if err := c.get(ctx, u, &body); err != nil {
			return "", where, err
		}
		if body.Results == nil {
			return "", where, fmt.Errorf("%s: %w: no results array", where, pollers.ErrMalformed)
		}
		if count >= 0 && body.Count.N != count && !tolerant {
			moved = true
			return "", where, nil
		}
		count = body.Count.N
		for i := range body.Results {
			m := &body.Results[i]
			em, keep, err := m.message(threadID, c.userID, c.loc)
			if err != nil {
				return "", where, fmt.Errorf("%s: message %d (id %q): %w", where, i, m.ID, err)
			}
			if _, dup := seen[em.ID]; dup || !keep {
				continue
			}
			seen[em.ID] = struct{}{}
			msgs = append(msgs, em)
		}
		next, err := c.next(body.Next, u, len(body.Results))
		if err != nil {
			return "", where, fmt.Errorf("%s: %w", where, err)
		}
		if next != "" {
			if u, err = url.Parse(next); err != nil {
				return "", where, fmt.Errorf("%s: %w: next link: %w", where, pollers.ErrMalformed, err)
			}
		}
		return next, where, nil
	})
	if err != nil || moved {
		return nil, moved, err
	}
	return msgs, false, nil
}
