package ops

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/threadsync/threadsync/checkpoint"
)

// Flags are an operator command's arguments: its flags, and the account it
// names (every command but accounts names one).
type Flags struct {
	json          bool
	reason, by    string
	fromNow, full bool
	yes           bool
	since         time.Time
	account       string
	needsAccount  bool
}

// Parse reads the arguments of command name; takesArgs is false for the
// commands that take none (run, check, tail), whose settings all come from
// the environment. Flag errors and -h go to stderr.
func Parse(name string, args []string, takesArgs bool, stderr io.Writer) (Flags, error) {
	var f Flags
	if !takesArgs {
		if len(args) > 0 {
			return f, fmt.Errorf("threadsync %s: unexpected arguments %q (settings come from the environment; see threadsync %s --help)", name, args, name)
		}
		return f, nil
	}
	fs := flagSet(name, &f)
	fs.SetOutput(stderr)
	// The account may come before or after the flags.
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		f.account, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	rest := fs.Args()
	if f.account == "" && len(rest) > 0 {
		f.account, rest = rest[0], rest[1:]
	}
	switch {
	case len(rest) > 0:
		return f, fmt.Errorf("threadsync %s: unexpected arguments %q", name, rest)
	case f.needsAccount && f.account == "":
		return f, fmt.Errorf("threadsync %s: name the account: threadsync %s <provider>/<id>", name, name)
	case !f.needsAccount && f.account != "":
		return f, fmt.Errorf("threadsync %s: takes no account", name)
	case name == "reset" && f.fromNow == f.full:
		return f, fmt.Errorf("threadsync reset: choose one of --from-now and --full")
	}
	return f, nil
}

// flagSet declares command name's flags into f.
func flagSet(name string, f *Flags) *flag.FlagSet {
	fs := flag.NewFlagSet("threadsync "+name, flag.ContinueOnError)
	switch name {
	case "accounts":
		fs.BoolVar(&f.json, "json", false, "one JSON object per account, one per line")
	case "pause", "resume":
		fs.StringVar(&f.reason, "reason", "", "why, for the AccountPaused/AccountResumed event and `accounts`")
		fs.StringVar(&f.by, "by", operator(), "who, for the event")
		f.needsAccount = true
	case "reset":
		fs.BoolVar(&f.fromNow, "from-now", false, "record the inbox again silently: publish only what changes from now on")
		fs.BoolVar(&f.full, "full", false, "publish every thread and message again")
		fs.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
		fs.StringVar(&f.by, "by", operator(), "who, for the logs")
		f.needsAccount = true
	case "backfill":
		fs.Func("since", "only threads and messages of this time or later (RFC 3339, or YYYY-MM-DD in UTC)", func(v string) error {
			t, err := parseSince(v)
			f.since = t
			return err
		})
		fs.StringVar(&f.by, "by", operator(), "who, for the logs")
		f.needsAccount = true
	default:
		f.needsAccount = true
	}
	return fs
}

// PrintFlags writes command name's flags, for its help.
func PrintFlags(w io.Writer, name string) {
	fs := flagSet(name, &Flags{})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func parseSince(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-03-01T00:00:00Z) nor a date (2026-03-01)", v)
	}
	return t, nil
}

// operator names who runs a command: user@host.
func operator() string {
	name := "operator"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

// confirm asks on a terminal for the account's name before a reset; off a
// terminal there is no one to ask, so it refuses.
func confirm(stdin *os.File, stderr io.Writer, account, warning string) bool {
	fmt.Fprintf(stderr, "Reset %s: %s.\n", account, warning)
	if !term.IsTerminal(int(stdin.Fd())) {
		return false
	}
	fmt.Fprintf(stderr, "Type the account's name to go on: ")
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	return strings.TrimSpace(line) == account
}

// backfill follows a backfill: a progress bar on a terminal (threads done
// of the account's total, rate, time left), otherwise a line every few
// seconds.
func backfill(ctx context.Context, o *Ops, f Flags, stdout io.Writer) error {
	var bar *progressbar.ProgressBar
	tty := false
	if out, ok := stdout.(*os.File); ok && term.IsTerminal(int(out.Fd())) {
		tty = true
	}
	var lastLine time.Time
	b, err := o.Backfill(ctx, f.account, f.since, f.by, func(b checkpoint.Backfill) {
		switch {
		case tty && bar == nil && !b.Started.IsZero():
			bar = progressbar.NewOptions64(max(b.Total, 1), progressbar.OptionSetWriter(stdout),
				progressbar.OptionSetDescription(f.account), progressbar.OptionShowCount(),
				progressbar.OptionShowIts(), progressbar.OptionSetItsString("threads"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth())
			fallthrough
		case tty && bar != nil:
			_ = bar.Set64(min(b.Walked, max(b.Total, 1)))
		case !tty && (time.Since(lastLine) >= 5*time.Second || !b.Done.IsZero()):
			lastLine = time.Now()
			fmt.Fprintf(stdout, "%s: backfill: %d of %d threads walked, %d with history, %d events\n", f.account, b.Walked, b.Total, b.Threads, b.Events)
		}
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stdout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: backfill done: %d threads with history, %d events, in %s\n", f.account, b.Threads, b.Events, b.Done.Sub(b.Started).Round(time.Millisecond))
	return nil
}

// Account is the account the command names; empty for accounts.
func (f Flags) Account() string { return f.account }

// Env is what Run needs from the process.
type Env struct {
	Ops *Ops
	// Publisher connects to the stream, for the commands that publish;
	// close lets the connection go.
	Publisher       func(ctx context.Context) (p Publisher, close func(), err error)
	DuplicateWindow time.Duration
	Stdin           *os.File
	Stderr          io.Writer
}

// Run runs the operator command name with its parsed flags. ctx bounds the
// command's work; a backfill is followed until follow ends. Its exit
// status: 0 done, 1 failed, 2 not confirmed.
func Run(ctx, follow context.Context, name string, f Flags, env Env) int {
	o := env.Ops
	fail := func(err error) int {
		fmt.Fprintf(env.Stderr, "threadsync %s: %v\n", name, err)
		return 1
	}
	if f.account != "" {
		if _, err := o.Find(f.account); err != nil {
			return fail(err)
		}
	}
	if name == "pause" || name == "resume" {
		pub, closePub, err := env.Publisher(ctx)
		if err != nil {
			return fail(err)
		}
		defer closePub()
		o.Publisher = pub
	}
	var err error
	switch name {
	case "accounts":
		err = o.List(ctx, f.json)
	case "pause":
		err = o.Pause(ctx, f.account, f.by, f.reason)
	case "resume":
		err = o.Resume(ctx, f.account, f.by, f.reason)
	case "sync-now":
		err = o.SyncNow(ctx, f.account)
	case "reset":
		mode := "from_now"
		if f.full {
			mode = "full"
		}
		if !f.yes && !confirm(env.Stdin, env.Stderr, f.account, ResetWarning(mode, env.DuplicateWindow)) {
			fmt.Fprintln(env.Stderr, "threadsync reset: not confirmed; nothing done (--yes skips the question)")
			return 2
		}
		err = o.Reset(ctx, f.account, mode, f.by, 10*time.Second)
	case "backfill":
		err = backfill(follow, o, f, o.Out)
	default:
		err = fmt.Errorf("not an operator command")
	}
	if err != nil {
		return fail(err)
	}
	return 0
}
