package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestRenderAccounts(t *testing.T) {
	var buf bytes.Buffer
	err := renderAccounts(&buf, []account{{
		provider: "mirakl", id: "shop-2001", baseURL: "http://127.0.0.1:8089/mirakl",
		token: "k3y", options: map[string]string{"shop_id": "2001"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Simulated accounts served by providersim. The tokens are simulator keys,
# valid for this providersim run only.
accounts:
  - provider: mirakl
    id: shop-2001
    base_url: http://127.0.0.1:8089/mirakl
    token: "k3y"
    poll_interval: 2s
    initial_sync: full
    options:
      shop_id: "2001"
`
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// syncBuffer is a log sink the server's goroutines may write while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "-1"},
		{"-seed-threads", "-2"},
		{"-mirakl-shops", "-1", "-listen", "127.0.0.1:0"},
		{"-throttle-every", "-1"},
		{"-slow-every", "-2"},
		{"-slow-every", "2", "-slow", "0s"},
		{"extra"},
		{"-hubspot-accounts", "-1", "-listen", "127.0.0.1:0"},
		{"-hubspot-daily-limit", "-5", "-listen", "127.0.0.1:0"},
		{"-olx-accounts", "-1", "-listen", "127.0.0.1:0"},
		{"-olx-timezone", "Mars/Olympus", "-listen", "127.0.0.1:0"},
		{"-partizap-accounts", "-1", "-listen", "127.0.0.1:0"},
		{"-selfcommunity-accounts", "-1", "-listen", "127.0.0.1:0"},
	} {
		if err := run(context.Background(), args, io.Discard, nil); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

// served is providersim's run serving on a free port, until stop or the
// end of the test.
type served struct {
	addr     string
	path     string // the accounts file it wrote
	accounts []byte // what it wrote there
	cancel   context.CancelFunc
	done     chan error
	once     sync.Once
}

// serve starts run with args, -listen on a free port and -accounts-out,
// and returns once it serves.
func serve(t *testing.T, logs io.Writer, args ...string) *served {
	t.Helper()
	s := &served{path: filepath.Join(t.TempDir(), "accounts.yaml"), done: make(chan error, 1)}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	args = append([]string{"-listen", "127.0.0.1:0", "-accounts-out", s.path}, args...)
	go func() { s.done <- run(ctx, args, logs, func(addr string) { addrc <- addr }) }()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.addr = <-addrc:
	case err := <-s.done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	var err error
	if s.accounts, err = os.ReadFile(s.path); err != nil {
		t.Fatal(err)
	}
	return s
}

// stop cancels run and checks that it returns nil, promptly.
func (s *served) stop(t *testing.T) {
	s.once.Do(func() {
		s.cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("run after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("run does not return after cancel")
		}
	})
}
