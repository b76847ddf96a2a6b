package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/threadsync/threadsync/internal/accountsfile"
	"github.com/threadsync/threadsync/internal/ops"
)

// opsTimeout bounds how long an operator command waits for Redis or NATS.
const opsTimeout = 15 * time.Second

// runOps connects an operator command (internal/ops) to the deployment
// the settings name. Its exit status: 0 done, 1 failed, 2 not confirmed.
func runOps(ctx context.Context, name string, f ops.Flags, cfg *Config, stdin *os.File, stdout, stderr io.Writer, log *slog.Logger) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "threadsync %s: %v\n", name, err)
		return 1
	}
	accounts, err := accountsfile.Load(cfg.AccountsFile, os.LookupEnv, cfg.PollInterval)
	if err != nil {
		return fail(err)
	}
	follow := ctx
	ctx, cancel := context.WithTimeout(ctx, opsTimeout)
	defer cancel()
	rdb, store, err := openStore(ctx, cfg, log)
	if err != nil {
		return fail(fmt.Errorf("Redis at REDIS_URL: %w", err))
	}
	defer rdb.Close()
	publisher := func(ctx context.Context) (ops.Publisher, func(), error) {
		nc, pub, _, err := openStream(ctx, cfg.NATSURL, cfg, log)
		if err != nil {
			return nil, nil, fmt.Errorf("NATS at NATS_URL: %w", err)
		}
		return pub, nc.Close, nil
	}
	return ops.Run(ctx, follow, name, f, ops.Env{
		Ops:       &ops.Ops{Store: store, Accounts: accounts, SubjectPrefix: cfg.SubjectPrefix, Out: stdout},
		Publisher: publisher, DuplicateWindow: cfg.DuplicateWindow, Stdin: stdin, Stderr: stderr,
	})
}
