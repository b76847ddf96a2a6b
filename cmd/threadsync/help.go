package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/threadsync/threadsync/internal/accountsfile"
	"github.com/threadsync/threadsync/internal/envconf"
	"github.com/threadsync/threadsync/internal/ops"
)

// command is one subcommand of threadsync.
type command struct {
	name    string
	args    string
	summary string
	env     bool // reads the environment settings, so its help lists them
	ops     bool // an operator command: takes arguments (internal/ops)
}

var commands = []command{
	{name: "run", summary: "poll every account and publish its events until SIGINT or SIGTERM", env: true},
	{name: "check", summary: "validate the configuration and the accounts file, exit non-zero if invalid", env: true},
	{name: "tail", summary: "print the events on the stream in readable form as they arrive, until interrupted", env: true},
	{name: "accounts", args: "[--json]", summary: "list the accounts with their state: synced, paused, holder, failures, episodes", env: true, ops: true},
	{name: "pause", args: "<provider>/<id> [--reason TEXT] [--by NAME]", summary: "stop polling an account on every worker until resumed (AccountPaused)", env: true, ops: true},
	{name: "resume", args: "<provider>/<id> [--reason TEXT] [--by NAME]", summary: "poll a paused account again, at once (AccountResumed)", env: true, ops: true},
	{name: "sync-now", args: "<provider>/<id>", summary: "ask the worker holding an account to poll it now", env: true, ops: true},
	{name: "backfill", args: "<provider>/<id> [--since DATE]", summary: "publish the history a from_now start skipped, showing its progress", env: true, ops: true},
	{name: "reset", args: "<provider>/<id> --from-now | --full [--yes]", summary: "start an account over: record it again silently, or publish it all again", env: true, ops: true},
	{name: "version", summary: "print the version and exit"},
	{name: "help", args: "[command]", summary: "show this help, or a command's"},
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help":
		return true
	}
	return false
}

// usage writes the help of cmd, or of threadsync as a whole when cmd is empty
// or unknown. The environment and accounts file sections are generated from
// Config's tags and the loader's field table, so they cannot drift.
func usage(w io.Writer, cmd string) {
	c, ok := lookupCommand(cmd)
	if !ok || c.name == "help" {
		usageAll(w)
		return
	}
	fmt.Fprintf(w, "Usage: threadsync %s", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s.\n", upperFirst(c.summary))
	if c.ops {
		ops.PrintFlags(w, c.name)
	}
	if c.env {
		fmt.Fprintln(w)
		usageEnv(w)
		fmt.Fprintln(w)
		usageAccounts(w)
	}
}

func usageAll(w io.Writer) {
	fmt.Fprint(w, `threadsync polls inbox APIs (OLX, SelfCommunity, Partizap, HubSpot, Mirakl) and
publishes ThreadCreated, MessageReceived and ReplyNeeded events to NATS JetStream.

Usage:
  threadsync <command>
  threadsync <command> --help

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w)
	usageEnv(w)
	fmt.Fprintln(w)
	usageAccounts(w)
}

func usageEnv(w io.Writer) {
	fmt.Fprintln(w, "Environment:")
	envconf.Usage(w, settings())
}

func usageAccounts(w io.Writer) {
	fmt.Fprintln(w, "Accounts file (THREADSYNC_ACCOUNTS), YAML:")
	fmt.Fprintln(w, "  accounts:")
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for i, f := range accountsfile.Fields {
		lead := "      "
		if i == 0 {
			lead = "    - "
		}
		fmt.Fprintf(tw, "%s%s:\t# %s\n", lead, f.Name, f.Desc)
	}
	tw.Flush()
	fmt.Fprintln(w, `  sla_policies:                    # optional: named reply policies
    <name>:
      reply_within: 4h               # Go duration, counted in open hours with a calendar
      warn_before: 30m               # optional: a warning when this much remains
      calendar:                      # optional; without it the clock runs 24/7
        timezone: Europe/Paris       # IANA zone
        hours: {mon-fri: "09:00-18:00", sat: "10:00-13:00"}  # days absent are closed
        holidays: ["2026-12-25"]
  default_sla: <name>                # optional: the policy of accounts without sla`)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
