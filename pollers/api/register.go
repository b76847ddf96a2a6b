package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/threadsync/threadsync/pollers"
)

// Registration is a provider as threadsync knows it. Each provider package
// declares one (its Provider variable) and pollers/providers lists them
// all; the accounts file, `threadsync check`, the engine's factories and
// the README's option tables read them from there.
type Registration struct {
	// Name is the provider's name in accounts files, subjects and keys.
	Name string
	// Title is how people write it (the README's headings).
	Title string
	// Options are the provider's own options; EngineOptions come on top.
	Options Options
	// Features are what the client declares with the default options
	// (pollers.Provider.Features of a client is what counts).
	Features pollers.Features
	// Build makes the client of an account.
	Build func(a Account) (pollers.Provider, error)
}

// Account is an account as Build gets it, read and checked.
type Account struct {
	pollers.Account
	// Base is the account's base_url, read by BaseURL.
	Base *url.URL
	// Values are its options, read by the registration's Options.
	Values Values
	// HTTP is the engine's client, which every request goes through.
	HTTP *http.Client
}

// New is the provider's pollers.Factory: it validates the account's
// options and base URL, so that the engine, `threadsync check` and tests
// get the same errors, and builds the client.
func (r Registration) New(a pollers.Account, client *http.Client) (pollers.Provider, error) {
	v, err := r.Options.Parse(a.Options)
	if err != nil {
		return nil, err
	}
	base, err := BaseURL(a)
	if err != nil {
		return nil, err
	}
	return r.Build(Account{Account: a, Base: base, Values: v, HTTP: client})
}

var _ pollers.Factory = Registration{}.New

// BaseURL reads an account's base_url as the clients use it: an absolute
// http or https URL, without a trailing slash, a query or a fragment (each
// client builds its own paths and queries on it). The engine has checked
// the account (pollers.Account.Validate); the check here keeps a client
// built directly from sending requests nowhere.
func BaseURL(a pollers.Account) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(a.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL is not quoted: it may carry credentials.
		return nil, errors.New("base_url must be an absolute http or https URL")
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}
