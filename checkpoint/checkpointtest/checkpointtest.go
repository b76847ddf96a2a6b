// Package checkpointtest gives tests a real Redis-backed checkpoint store,
// isolated from other tests by its own key prefix.
package checkpointtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/threadsync/threadsync/checkpoint"
)

// URL is the Redis the tests use: REDIS_URL, or the local default.
func URL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Redis connects to the test Redis and fails the test when none answers;
// `make test` starts one.
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(URL())
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("no Redis answers at %s (make test starts one): %v", opts.Addr, err)
	}
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Prefix returns a key prefix no other test uses; its keys are deleted when
// the test ends.
func Prefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tstest-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// NewStore returns a store on the test Redis under a fresh prefix.
func NewStore(tb testing.TB) (*checkpoint.Store, *redis.Client) {
	tb.Helper()
	rdb := Redis(tb)
	s, err := checkpoint.New(rdb, Prefix(tb, rdb))
	if err != nil {
		tb.Fatal(err)
	}
	return s, rdb
}
