package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckCommand runs `threadsync check` on a valid and a broken accounts
// file: it needs no Redis or NATS, and says what is wrong where.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	check := func(yaml string) (string, int) {
		t.Helper()
		file := filepath.Join(dir, "accounts.yaml")
		if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "check")
		// Nothing answers at these addresses: check must not need them.
		cmd.Env = append(os.Environ(), "THREADSYNC_ACCOUNTS="+file,
			"NATS_URL=nats://127.0.0.1:1", "REDIS_URL=redis://127.0.0.1:1/0")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := check("accounts:\n  - provider: mirakl\n    id: shop-1\n    base_url: https://acme.mirakl.net\n    token: k\n    options: {shop_id: \"1\"}\n")
	if code != 0 || !strings.Contains(out, "1 accounts, configuration valid") {
		t.Fatalf("valid file: exit %d\n%s", code, out)
	}
	out, code = check("accounts:\n  - provider: mirakl\n    id: shop.1\n    base_url: https://acme.mirakl.net\n")
	if code != 1 || !strings.Contains(out, "accounts.yaml") || !strings.Contains(out, "shop.1") || !strings.Contains(out, "token") {
		t.Fatalf("broken file: exit %d, want 1 naming the file, the account and the field\n%s", code, out)
	}
}
