package chart_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestThreadsyncChecksRendering runs `threadsync check` on what the chart
// renders with every feature on: the accounts file of the ConfigMap, the
// container's environment, and stand-ins for the Secret files mounted where
// the Deployment mounts them. So the chart stays in step with the accounts
// file and the settings the process actually accepts.
//
// It builds cmd/threadsync with -race, which reuses what `make test`'s run
// of the main module compiled; THREADSYNC_BIN names a binary to use instead.
func TestThreadsyncChecksRendering(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/threadsync")
	}
	bin := os.Getenv("THREADSYNC_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "threadsync")
		build := exec.Command("go", "build", "-race", "-o", bin, "./cmd/threadsync")
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/threadsync: %v\n%s", err, out)
		}
	}

	// The pod's file system, under root.
	root := t.TempDir()
	values := fullValues(t) + fmt.Sprintf("accountsMountPath: %s/etc/threadsync\ntokensMountPath: %s/tokens\n", root, root)
	m := mustRender(t, values)
	d, c := m.deployment(t)
	_, accounts := m.accounts(t)

	inPod := func(p string) string {
		if strings.HasPrefix(p, root) {
			return p
		}
		return filepath.Join(root, p)
	}
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mounts := map[string]string{}
	for _, mnt := range c.VolumeMounts {
		mounts[mnt.Name] = mnt.MountPath
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			write(filepath.Join(inPod(mounts[v.Name]), "accounts.yaml"), accounts)
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				for _, it := range src.Secret.Items {
					write(filepath.Join(inPod(mounts[v.Name]), it.Path), "stand-in for "+src.Secret.Name+"/"+it.Key)
				}
			}
		}
	}

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && strings.HasSuffix(e.Name, "_URL"):
			env = append(env, e.Name+"="+map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "REDIS_URL": "redis://127.0.0.1:6379/0"}[e.Name])
		case e.ValueFrom != nil:
			env = append(env, e.Name+"=stand-in-secret")
		case strings.HasPrefix(e.Value, "/"):
			env = append(env, e.Name+"="+inPod(e.Value))
		default:
			env = append(env, e.Name+"="+e.Value)
		}
	}
	// extraEnvFrom's Secret provides the partizap account's variable.
	env = append(env, "PARTIZAP_KEY=stand-in-secret")

	check := exec.Command(bin, "check")
	check.Env = env
	check.Dir = root
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("threadsync check: %v\n%s\naccounts.yaml:\n%s", err, out, accounts)
	}
	if !strings.Contains(string(out), "5 accounts, configuration valid") {
		t.Errorf("threadsync check: %s", out)
	}
}
