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
// Options:
//   - user_id (required): the vendor's Partizap user id.
//   - page_size: conversations per page, 1-100, default 100.
//   - messages_path: path of a conversation's message list under the base
//     URL, with one {id} placeholder; default
//     /vendor/conversations/{id}/messages.
//   - messages_page_size: messages per page, 1-100, default 100.
//   - timezone: IANA zone of times sent without an offset; default
//     Europe/Moscow.
//   - offset_pagination: true (default) makes the engine walk again when a
//     conversation shows up twice in one walk, the sign that the cursor is
//     an offset into a list that moved; false trusts the cursor.
//   - requests_per_second and overlap: see package pollers.
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
	"time"

	"github.com/threadsync/threadsync/events"
	"github.com/threadsync/threadsync/pollers"
)

// Name is the provider's name in accounts files, subjects and keys.
const Name = "partizap"

// DefaultMessagesPath is the message list partizap.md infers from its
// sibling routes .../messages/image and .../messages/search.
const DefaultMessagesPath = "/vendor/conversations/{id}/messages"

// DefaultRequestsPerSecond is the default request rate per account: Partizap
// documents no limit, and its API serves a web front end.
const DefaultRequestsPerSecond = 5

// maxMessagePages bounds the message pages of one conversation, against a
// next_cursor that never ends.
const maxMessagePages = 10_000

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

var _ pollers.Provider = (*Client)(nil)

const knownOptions = "user_id, page_size, messages_path, messages_page_size, timezone, offset_pagination, overlap, requests_per_second, quota"

// New is the pollers.Factory of Partizap accounts.
func New(a pollers.Account, client *http.Client) (pollers.Provider, error) {
	base, err := url.Parse(strings.TrimRight(a.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("base_url: %w", err)
	}
	base.RawQuery, base.Fragment = "", ""
	if !validCookieValue(a.Token) {
		// Anything else would end the cookie early or smuggle another one.
		return nil, errors.New("token is not a valid cookie value (it must be the raw PARTIZAP_SESSION value, without spaces, quotes or semicolons)")
	}
	c := &Client{
		base: base, cookie: "PARTIZAP_SESSION=" + a.Token,
		pageSize: 100, msgPageSize: 100, msgPath: DefaultMessagesPath,
		offsetPages: true, http: client,
	}
	var errs []error
	zone := "Europe/Moscow"
	for k, v := range a.Options {
		switch k {
		case "user_id":
			if v = strings.TrimSpace(v); v == "" || strings.ContainsAny(v, " \t\r\n") {
				errs = append(errs, fmt.Errorf("option user_id %q must be the vendor's Partizap user id", v))
			}
			c.mp.userID = v
		case "page_size":
			c.pageSize, err = pageSize(k, v)
			errs = append(errs, err)
		case "messages_page_size":
			c.msgPageSize, err = pageSize(k, v)
			errs = append(errs, err)
		case "messages_path":
			errs = append(errs, validMessagesPath(v))
			c.msgPath = v
		case "timezone":
			zone = v
		case "offset_pagination":
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("option offset_pagination %q must be true or false", v))
			}
			c.offsetPages = b
		case "overlap", "requests_per_second", "quota":
		default:
			errs = append(errs, fmt.Errorf("unknown option %q (known: %s)", k, knownOptions))
		}
	}
	if _, ok := a.Options["user_id"]; !ok {
		errs = append(errs, errors.New("option user_id is required: the vendor's Partizap user id, which tells the vendor's own messages from the buyers'"))
	}
	if c.mp.loc, err = loadZone(zone); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func pageSize(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, fmt.Errorf("option %s %q must be an integer from 1 to 100", name, v)
	}
	return n, nil
}

// validMessagesPath checks a messages_path option: an absolute path with
// exactly one {id}, no query, no dot segments.
func validMessagesPath(p string) error {
	bad := func(why string) error {
		return fmt.Errorf("option messages_path %q %s (e.g. %s)", p, why, DefaultMessagesPath)
	}
	switch {
	case !strings.HasPrefix(p, "/"):
		return bad("must start with /")
	case strings.Count(p, "{id}") != 1:
		return bad("must contain {id} exactly once")
	case strings.ContainsAny(p, "?# \t\r\n\\"):
		return bad("must be a plain path, without query, fragment or spaces")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return bad("must not contain . or .. segments")
		}
	}
	if _, err := url.PathUnescape(strings.Replace(p, "{id}", "1", 1)); err != nil {
		return bad("has an invalid escape")
	}
	return nil
}

// loadZone loads an IANA zone. Europe/Moscow, the default, falls back to
// its fixed offset (UTC+3 since 2014) on systems without a zone database.
func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err == nil {
		return loc, nil
	}
	if name == "Europe/Moscow" {
		return time.FixedZone("MSK", 3*60*60), nil
	}
	return nil, fmt.Errorf("option timezone %q: %w", name, err)
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

// Features: full scans (no incremental filter), derived reply-needed.
func (c *Client) Features() pollers.Features {
	return pollers.Features{
		// A message list read newest first stops at the cursor.
		MessageCursor: true,
		// The cursor is opaque and the order undocumented: if the cursor
		// is an offset, a conversation that moves during a walk shows up
		// twice and may push another past the walk, so the engine walks
		// again when it sees one twice. A keyset cursor never lists one
		// twice, so this costs nothing there.
		OffsetPagination:  c.offsetPages,
		RequestsPerSecond: DefaultRequestsPerSecond,
	}
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
		var he *pollers.HTTPError
		if q.Token != "" && errors.As(err, &he) && cursorRefused(he.Status) {
			return pollers.Page{}, fmt.Errorf("%w: %w", pollers.ErrTokenExpired, err)
		}
		return pollers.Page{}, err
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

// cursorRefused: statuses with which an API refuses a cursor it no longer
// knows (Partizap documents none; these are the plausible ones).
func cursorRefused(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusGone
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
	seenCursor := map[string]struct{}{"": {}}
	// descending: every message so far is no newer than the one before,
	// and at least one is older.
	descending, older := true, false
	cur := ""
	for pageNo := 0; ; pageNo++ {
		v := url.Values{"limit": {strconv.Itoa(c.msgPageSize)}}
		if cur != "" {
			v.Set("cursor", cur)
		}
		u := c.endpoint(rawPath, v)
		where := "GET " + pollers.RedactURL(u)
		if pageNo == maxMessagePages {
			return nil, fmt.Errorf("%s: conversation %s: %w: more than %d message pages", where, id, pollers.ErrMalformed, maxMessagePages)
		}
		var body list[message]
		if err := c.get(ctx, u, &body); err != nil {
			var he *pollers.HTTPError
			if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusMethodNotAllowed) && pageNo == 0 {
				return nil, fmt.Errorf("conversation %s: %w (if the conversation exists, option messages_path may be wrong)", id, err)
			}
			return nil, fmt.Errorf("conversation %s: %w", id, err)
		}
		next, err := nextCursor(body.Data == nil, body.Meta)
		if err != nil {
			return nil, fmt.Errorf("%s: conversation %s: %w", where, id, err)
		}
		reachesBack := false
		for i := range body.Data {
			m, err := c.mp.message(&body.Data[i], &it.Thread)
			if err != nil {
				return nil, fmt.Errorf("%s: conversation %s: message %d: %w", where, id, i, err)
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
		if next == "" || (reachesBack && descending && older) {
			break
		}
		if _, again := seenCursor[next]; again {
			return nil, fmt.Errorf("%s: conversation %s: %w: meta.next_cursor %.40q repeats (a pagination loop)", where, id, pollers.ErrMalformed, next)
		}
		seenCursor[next] = struct{}{}
		cur = next
	}
	slices.SortStableFunc(out, byTimeThenID)
	return out, nil
}
