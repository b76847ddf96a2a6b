package accountsfile

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"time"

	"github.com/threadsync/threadsync/pollers"
)

// Updater takes a new list of accounts (*pollers.Engine).
type Updater interface {
	Update(ctx context.Context, accounts []pollers.Account) (added, removed, changed int, err error)
}

// Watch reads the accounts file at path again on every signal on hup and,
// when it or a token file it names has changed, every interval (never
// when zero); then it gives the updater the new list, until ctx ends.
// Comparing the files themselves, token files included, catches a rotated
// secret and spares parsing a large unchanged file. A file with errors
// changes nothing; on a signal its errors are always logged, on the timer
// once.
func Watch(ctx context.Context, hup <-chan os.Signal, path string, interval, defaultPollInterval time.Duration, u Updater, log *slog.Logger) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	// A zero fingerprint differs from any: the first tick reads the file.
	files := []string{path}
	var seen [sha256.Size]byte
	for {
		asked := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			asked = true
		case <-tick:
			if fingerprint(files) == seen {
				continue
			}
		}
		accounts, src, err := loadSource(path, os.LookupEnv, defaultPollInterval)
		files, seen = src.files, src.sum
		if err == nil {
			var added, removed, changed int
			if added, removed, changed, err = u.Update(ctx, accounts); err == nil {
				if asked || added+removed+changed > 0 {
					log.Info("accounts reloaded", "accounts", len(accounts), "added", added, "removed", removed, "changed", changed)
				}
				continue
			}
		}
		log.Error("accounts file not reloaded; the accounts in use carry on", "file", path, "error", err)
	}
}
