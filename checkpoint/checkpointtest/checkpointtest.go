// Package checkpointtest gives tests a real Redis-backed checkpoint store,
// isolated from other tests by its own key prefix.
package checkpointtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

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
// the test ends, the rate keys of its shared quotas too (redis_rate puts
// "rate:" before the prefix).
func Prefix(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tstest-" + hex.EncodeToString(b[:])
	tb.Cleanup(func() {
		ctx := context.Background()
		for _, match := range []string{prefix + ":*", "rate:" + prefix + ":*"} {
			iter := rdb.Scan(ctx, 0, match, 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
	})
	return prefix
}

// NewStore returns a store on the test Redis under a fresh prefix.
func NewStore(tb testing.TB) (*checkpoint.Store, *redis.Client) {
	tb.Helper()
	replica, rdb := Replicas(tb)
	return replica(), rdb
}

// Replicas returns a function that makes stores on the test Redis under one
// fresh prefix, as the replicas of one worker have them, and the client
// they share.
func Replicas(tb testing.TB) (replica func() *checkpoint.Store, rdb *redis.Client) {
	tb.Helper()
	rdb = Redis(tb)
	prefix := Prefix(tb, rdb)
	return func() *checkpoint.Store {
		tb.Helper()
		s, err := checkpoint.New(rdb, prefix)
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}, rdb
}

// Server is a private redis-server process, for tests that stop and start
// Redis. It keeps its data across restarts (append-only file).
type Server struct {
	tb   testing.TB
	dir  string
	Port int
	cmd  *exec.Cmd
}

// StartServer starts a private redis-server on a free port; it is stopped
// when the test ends. The test fails when no redis-server binary is found
// (make test installs one).
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{tb: tb, dir: tb.TempDir(), Port: port}
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

func (s *Server) options() *redis.Options {
	return &redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.Port), MaxRetries: -1}
}

// Client connects to the server with a client that never retries a
// command, so that a stopped server shows at once; opts change its options
// first. It is closed when the test ends.
func (s *Server) Client(tb testing.TB, opts ...func(*redis.Options)) *redis.Client {
	o := s.options()
	for _, f := range opts {
		f(o)
	}
	rdb := redis.NewClient(o)
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		s.tb.Fatalf("redis-server not found (make test installs it): %v", err)
	}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	rdb := redis.NewClient(s.options())
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.tb.Fatalf("private redis-server on port %d did not answer", s.Port)
		}
		time.Sleep(20 * time.Millisecond) // polling a process that has no readiness signal
	}
}

// Stop stops the server; its data stays on disk for the next Start.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	s.cmd = nil
}
