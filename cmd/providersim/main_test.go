package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// TestServe runs the binary's run function on a free port and uses what it
// wrote: the accounts file, /healthz and the Mirakl API with its keys.
func TestServe(t *testing.T) {
	var logs syncBuffer
	srv := serve(t, &logs, "-mirakl-shops", "2", "-seed-threads", "7", "-rate", "0")
	addr, file, out := srv.addr, srv.accounts, srv.path

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	// Only the Mirakl accounts: other simulators write their own tokens.
	tokens := regexp.MustCompile(`provider: mirakl\n\s+id: \S+\n\s+base_url: \S+\n\s+token: "([0-9a-f]{32})"`).FindAllStringSubmatch(string(file), -1)
	if len(tokens) != 2 || !strings.Contains(string(file), "id: shop-2002") ||
		!strings.Contains(string(file), "base_url: http://"+addr+"/mirakl\n") {
		t.Fatalf("accounts file:\n%s", file)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Fatalf("accounts file mode %v, want 0600", fi.Mode().Perm())
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/mirakl/api/inbox/threads?shop_id=2002", nil)
	req.Header.Set("Authorization", tokens[1][1])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Data []json.RawMessage }
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(page.Data) != 7 {
		t.Fatalf("M11 for shop 2002: status %d, %d threads, %v", resp.StatusCode, len(page.Data), err)
	}

	// The admin API injects faults.
	resp, err = http.Post("http://"+addr+"/_admin/mirakl/faults", "application/json", strings.NewReader(`{"endpoint":"M11","status":503,"times":1}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject fault: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("after fault injection: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	srv.stop(t)
	for _, tok := range tokens {
		if strings.Contains(logs.String(), tok[1]) {
			t.Fatal("a key appears in the log")
		}
	}
	if !strings.Contains(logs.String(), "serving simulator") {
		t.Fatalf("log:\n%s", logs.String())
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
