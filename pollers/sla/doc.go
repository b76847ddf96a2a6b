// Package sla turns an account's reply policy into deadlines. A policy says
// within how long a customer's message must be answered and, optionally, how
// long before that deadline to warn. With a calendar the time is counted only
// in its open hours (local wall-clock intervals per weekday, minus holidays),
// so "4h" from Friday 17:00 may end on Monday; without one the clock runs 24/7.
//
// Everything here is arithmetic on time.Time: no clock, no I/O. Results are
// in UTC whatever the inputs' locations, so they compare and serialise alike
// on every host. Zones are loaded with time.LoadLocation, so a binary that
// runs where the host has no zoneinfo must embed time/tzdata.
package sla
