// Package partizap reads a Partizap vendor's inbox: conversations from GET
// /vendor/conversations walked with its opaque cursor, messages from the
// conversation's message list, which partizap.md infers
// (GET /vendor/conversations/{id}/messages; option messages_path moves it).
// Partizap has no incremental filter, so every walk is a full scan; a
// conversation's messages are fetched only when its newest message changed.
// Partizap states no reply-needed flag, so ReplyNeeded is derived from
// message directions: messages whose sender_id is the account's user_id are
// outbound, all others inbound.
//
// The token is the PARTIZAP_SESSION cookie value of a logged-in vendor
// session; it is sent as that cookie and nowhere else.
//
// Its options are declared in Options; Provider registers it.
package partizap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
	"github.com/threadsync/threadsync/pollers/api"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "partizap"

// DefaultMessagesPath is the message list partizap.md infers from its
// sibling routes .../messages/image and .../messages/search.
const DefaultMessagesPath = "/vendor/conversations/{id}/messages"

// DefaultRequestsPerSecond is the default request rate per account: Partizap
// documents no limit, and its API serves a web front end.
const DefaultRequestsPerSecond = 5

// Options are the settings of Partizap accounts.
var Options = api.Options{optUserID, optPageSize, optMessagesPath, optMessagesPageSize, optZone, optOffsetPagination}

var (
	optUserID = &api.Option[string]{
		Name: "user_id", Required: true,
		Doc:  "the vendor's Partizap user id: their messages are outbound, the buyers' inbound",
		Want: "a user id without spaces",
		Parse: func(v string) (string, error) {
			if v = strings.TrimSpace(v); v == "" || strings.ContainsAny(v, " \t\r\n") {
				return "", api.ErrInvalidOption
			}
			return v, nil
		},
	}
	optPageSize     = api.IntOption("page_size", 100, 1, 100, "conversations per page")
	optMessagesPath = &api.Option[string]{
		Name: "messages_path", Default: DefaultMessagesPath,
		Doc:   "the path of a conversation's message list under the base URL, which partizap.md only infers",
		Want:  "an absolute path with one {id}",
		Parse: validMessagesPath,
	}
	optMessagesPageSize = api.IntOption("messages_page_size", 100, 1, 100, "messages per page")
	optZone             = api.ZoneOption("timezone", "Europe/Moscow", "zone of times sent without an offset")
	optOffsetPagination = api.BoolOption("offset_pagination", true,
		"`true` walks again when a conversation is listed twice in one walk, the sign of an offset cursor over a list that moved; `false` trusts the cursor")
)

// features with the default options: full scans (no incremental filter),
// derived reply-needed.
var features = pollers.Features{
	// A message list read newest first stops at the cursor.
	MessageCursor: true,
	// The cursor is opaque and the order undocumented: if the cursor
	// is an offset, a conversation that moves during a walk shows up
	// twice and may push another past the walk, so the engine walks
	// again when it sees one twice. A keyset cursor never lists one
	// twice, so this costs nothing there. Option offset_pagination.
	OffsetPagination:  true,
	RequestsPerSecond: DefaultRequestsPerSecond,
}

// Provider registers Partizap.
var Provider = api.Registration{Name: Name, Title: "Partizap", Options: Options, Features: features, Build: build}

// Client reads one vendor's inbox.
type Client struct {
	base        *url.URL
	cookie      string // "PARTIZAP_SESSION=<token>": secret
	mp          mapper
	pageSize    int
	msgPageSize int
	msgPath     string
	offsetPages bool
	http        *http.Client
}

// New is the pollers.Factory of Partizap accounts: Provider's, which
// validates the options before it builds the client.
var New pollers.Factory = Provider.New

func build(a api.Account) (pollers.Provider, error) {
	o := a.Values
	if !validCookieValue(a.Token) {
		// Anything else would end the cookie early or smuggle another one.
		return nil, errors.New("token is not a valid cookie value (it must be the raw PARTIZAP_SESSION value, without spaces, quotes or semicolons)")
	}
	return &Client{
		base: a.Base, cookie: "PARTIZAP_SESSION=" + a.Token, http: a.HTTP,
		mp:       mapper{userID: optUserID.Get(o), loc: optZone.Get(o)},
		pageSize: optPageSize.Get(o), msgPageSize: optMessagesPageSize.Get(o), msgPath: optMessagesPath.Get(o),
		offsetPages: optOffsetPagination.Get(o),
	}, nil
}

// validMessagesPath reads a messages_path option: an absolute path with
// exactly one {id}, no query, no dot segments.
func validMessagesPath(p string) (string, error) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", errors.New("must start with /")
	case strings.Count(p, "{id}") != 1:
		return "", errors.New("must contain {id} exactly once")
	case strings.ContainsAny(p, "?# \t\r\n\\"):
		return "", errors.New("must be a plain path, without query, fragment or spaces")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return "", errors.New("must not contain . or .. segments")
		}
	}
	if _, err := url.PathUnescape(strings.Replace(p, "{id}", "1", 1)); err != nil {
		return "", errors.New("has an invalid escape")
	}
	return p, nil
}

// validCookieValue accepts what a Cookie header can carry unquoted. Commas
// are let through: PHP session ids may hold them, and servers split cookies
// on semicolons only.
func validCookieValue(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// Features are those of features, with the account's offset_pagination.
func (c *Client) Features() pollers.Features {
	f := features
	f.OffsetPagination = c.offsetPages
	return f
}

// get sends one GET with the session cookie and decodes the body.
func (c *Client) get(ctx context.Context, u *url.URL, out any) error {
	req, err := pollers.NewRequest(ctx, u.String())
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", c.cookie)
	// Laravel-style apps answer 401 JSON rather than a login redirect to
	// requests that say they are XHR.
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	err = pollers.GetJSON(c.http, req, out)
	var he *pollers.HTTPError
	if errors.As(err, &he) && he.Status == 419 {
		// 419 is how Laravel says "session expired".
		return fmt.Errorf("%w (session expired): %w", pollers.ErrAuth, err)
	}
	return err
}

// endpoint builds the URL of a path under the base URL; rawPath is already
// escaped.
func (c *Client) endpoint(rawPath string, q url.Values) *url.URL {
	u := *c.base
	u.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + rawPath
	u.Path, _ = url.PathUnescape(u.RawPath) // both parts are valid escapes
	u.RawQuery = q.Encode()
	return &u
}

// ListThreads reads one page of GET /vendor/conversations.
func (c *Client) ListThreads(ctx context.Context, q pollers.Query) (pollers.Page, error) {
	v := url.Values{"limit": {strconv.Itoa(c.pageSize)}}
	if q.Token != "" {
		v.Set("cursor", q.Token)
	}
	u := c.endpoint("/vendor/conversations", v)
	where := "GET " + pollers.RedactURL(u)
	var body list[conversation]
	if err := c.get(ctx, u, &body); err != nil {
		// Partizap documents no refusal of a cursor; these are the
		// plausible ones.
		return pollers.Page{}, api.TokenRefused(err, q.Token, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusGone)
	}
	next, err := nextCursor(body.Data == nil, body.Meta)
	if err != nil {
		return pollers.Page{}, fmt.Errorf("%s: %w", where, err)
	}
	page := pollers.Page{Items: make([]pollers.Item, 0, len(body.Data)), Next: next}
	for i := range body.Data {
		it, err := c.mp.item(&body.Data[i])
		if err != nil {
			return pollers.Page{}, fmt.Errorf("%s: conversation %d (%q): %w", where, i, body.Data[i].ID, err)
		}
		page.Items = append(page.Items, it)
	}
	// A cursor that comes back within a walk is caught by the engine.
	return page, nil
}

// nextCursor reads the end of a list: has_more decides; a page that says
// there is more but gives no cursor is malformed, since stopping there
// would silently drop the rest.
func nextCursor(noData bool, m *meta) (string, error) {
	switch {
	case noData:
		return "", fmt.Errorf("%w: %w", pollers.ErrMalformed, errNoData)
	case m == nil || m.HasMore == nil:
		return "", fmt.Errorf("%w: no meta.has_more", pollers.ErrMalformed)
	case !bool(*m.HasMore):
		return "", nil
	case m.NextCursor == "":
		return "", fmt.Errorf("%w: meta.has_more is true but meta.next_cursor is empty", pollers.ErrMalformed)
	}
	return string(m.NextCursor), nil
}

// Messages reads the conversation's message list page by page and returns
// the messages oldest first. When the list turns out to be newest first, it
// stops at the first page that reaches back before after, since everything
// beyond is already known.
func (c *Client) Messages(ctx context.Context, it *pollers.Item, after pollers.MessageCursor) ([]events.Message, error) {
	id := it.Thread.ID
	rawPath := strings.Replace(c.msgPath, "{id}", url.PathEscape(id), 1)
	var out []events.Message
	seenMsg := map[string]struct{}{}
	// descending: every message so far is no newer than the one before,
	// and at least one is older.
	descending, older := true, false
	err := api.Pages(func(cur string) (string, string, error) {
		v := url.Values{"limit": {strconv.Itoa(c.msgPageSize)}}
		if cur != "" {
			v.Set("cursor", cur)
		}
		u := c.endpoint(rawPath, v)
		where := "GET " + pollers.RedactURL(u)
		var body list[message]
		if err := c.get(ctx, u, &body); err != nil {
			var he *pollers.HTTPError
			if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusMethodNotAllowed) && cur == "" {
				return "", where, fmt.Errorf("%w (if the conversation exists, option messages_path may be wrong)", err)
			}
			return "", where, err
		}
		next, err := nextCursor(body.Data == nil, body.Meta)
		if err != nil {
			return "", where, fmt.Errorf("%s: %w", where, err)
		}
		reachesBack := false
		for i := range body.Data {
			m, err := c.mp.message(&body.Data[i], &it.Thread)
			if err != nil {
				return "", where, fmt.Errorf("%s: message %d: %w", where, i, err)
			}
			if n := len(out); n > 0 {
				switch m.CreatedAt.Compare(out[n-1].CreatedAt) {
				case 1:
					descending = false
				case -1:
					older = true
				}
			}
			if !after.At.IsZero() && m.CreatedAt.Before(after.At) {
				reachesBack = true
			}
			if _, dup := seenMsg[m.ID]; dup {
				continue // a cursor page that overlaps the previous one
			}
			seenMsg[m.ID] = struct{}{}
			out = append(out, m)
		}
		if reachesBack && descending && older {
			return "", where, nil
		}
		return next, where, nil
	})
	if err != nil {
		return nil, fmt.Errorf("conversation %s: %w", id, err)
	}
	slices.SortStableFunc(out, byTimeThenID)
	return out, nil
}
