// Package api is the toolkit of threadsync's provider clients: what every
// client of a provider's HTTP API needs and would otherwise write again,
// each piece with one set of rules.
//
//   - Options and Option declare the settings of a provider's accounts
//     (name, default, what a value must be, what it does, how it is
//     read). The declaration validates accounts with one error style, and
//     the README's option tables come from it.
//   - ID, Int, Bool and Text read the loosely typed scalars of provider
//     JSON through the decoder pollers.GetJSON runs.
//   - CompareIDs is the one order of ids.
//   - LoadZone and ZoneOption are the one time zone rule: an IANA name,
//     never Local.
//   - Pages reads a paged list (a thread's messages) to its end, with the
//     guards the engine keeps on the thread list: a page token that comes
//     back is a loop, and a list that never ends is an error.
//   - TokenRefused maps a provider refusing a stored page token to
//     pollers.ErrTokenExpired, upon which the engine restarts the walk.
//   - Registration is a provider as threadsync knows it, registered once
//     in package pollers/providers; its New checks an account's options and
//     base URL (BaseURL) and hands Build an Account read and checked.
//
// Everything a provider states about a thread (its version, its drift)
// goes to the engine through pollers.Page and return values; nothing here
// keeps state between calls.
package api
