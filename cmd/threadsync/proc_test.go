package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/threadsync/threadsync/pollers/pollerstest"
)

// buildBinary builds threadsync once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "threadsync-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "threadsync")
	out, err := exec.Command("go", "build", "-race", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a threadsync process started by a test, its output collected in
// logs.
//
// A signal sent to it before it has installed its handler kills it by the
// default action, whatever the program does (the Go runtime and the
// packages initialise first). So every signal a test sends, except a
// deliberate SIGKILL, waits for a sign that the process is past that point:
// waitReady (it serves /readyz with 200, so it is polling), waitLog or
// output (anything it writes is written after its handler is in place).
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	logs   *pollerstest.Buffer
	output chan struct{} // closed once the process has written anything
	exited chan struct{} // closed once the process exited and all its output is in logs
	err    error         // cmd.Wait's, once exited is closed
	health string        // base URL of the health endpoints, once waitReady returned
}

// startProc starts the threadsync binary with args and env as its whole
// environment. The process is killed when the test ends, if still running.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: exec.Command(bin, args...), logs: &pollerstest.Buffer{},
		output: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = env
	// One writer for both: one pipe, so the output keeps its order.
	w := &firstWrite{w: p.logs, first: p.output}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		// THREADSYNC_TEST_LOGS keeps every process's output of a failed
		// test, for a look at what led there.
		if dir := os.Getenv("THREADSYNC_TEST_LOGS"); dir != "" && t.Failed() {
			f := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+name+".log"))
			if err := os.WriteFile(f, []byte(p.logs.String()), 0o644); err != nil {
				t.Log(err)
			}
		}
	})
	return p
}

// firstWrite passes writes on to w and closes first at the first one.
type firstWrite struct {
	w     io.Writer
	first chan struct{}
	once  sync.Once
}

func (f *firstWrite) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	f.once.Do(func() { close(f.first) })
	return n, err
}

func (p *proc) String() string { return p.name + ":\n" + p.logs.String() }

// hasExited reports whether the process has exited.
func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// waitFor waits up to timeout for ok, polling it; it fails the test at once
// if one of procs exits meanwhile, showing the logs of all.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool, procs ...*proc) {
	t.Helper()
	show := func() string {
		var b strings.Builder
		for _, p := range procs {
			b.WriteString(p.String())
			b.WriteString("\n")
		}
		return b.String()
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		for _, p := range procs {
			if p.hasExited() {
				t.Fatalf("%s: %s exited first (%v)\n%s", what, p.name, p.err, show())
			}
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %s\n%s", what, timeout, show())
		case <-tick.C:
		}
	}
}

// waitLog waits until the process has logged a line containing s.
func (p *proc) waitLog(s string) {
	p.t.Helper()
	waitFor(p.t, fmt.Sprintf("%s logs %q", p.name, s), 60*time.Second, func() bool { return strings.Contains(p.logs.String(), s) }, p)
}

var healthAddr = regexp.MustCompile(`msg="health endpoints listening" addr=(\S+)`)

// waitReady waits until the process answers /readyz with 200: it has
// started (NATS connected, Redis answering) and polls. The process must run
// with THREADSYNC_HTTP_ADDR=127.0.0.1:0; the address it took is in its log,
// written once the listener accepts connections.
func (p *proc) waitReady() {
	p.t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	waitFor(p.t, p.name+" ready", 60*time.Second, func() bool {
		if p.health == "" {
			m := healthAddr.FindStringSubmatch(p.logs.String())
			if m == nil {
				return false
			}
			p.health = "http://" + m[1]
		}
		resp, err := client.Get(p.health + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, p)
}

// signal sends sig; the caller has made sure the process is past
// installing its handler.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
}

// stop sends SIGTERM to a ready process and waits for it to exit 0 within
// its shutdown timeout.
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	p.waitExit(0, 45*time.Second)
}

// waitExit waits for the process to exit and fails the test unless it
// exited with code (and not by a signal).
func (p *proc) waitExit(code int, timeout time.Duration) {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("%s: no exit within %s\n%s", p.name, timeout, p)
	}
	if got := p.cmd.ProcessState.ExitCode(); got != code {
		p.t.Fatalf("%s: exit %v, want status %d\n%s", p.name, p.err, code, p)
	}
}

// metricSum sums a counter's series (all label sets) in the process's
// /metrics; a counter not yet served counts 0.
func (p *proc) metricSum(name string) int {
	p.t.Helper()
	resp, err := http.Get(p.health + "/metrics")
	if err != nil {
		p.t.Fatalf("%s: /metrics: %v", p.name, err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			p.t.Fatalf("%s: /metrics: %q: %v", p.name, line, err)
		}
		n += int(v)
	}
	if err := sc.Err(); err != nil {
		p.t.Fatalf("%s: /metrics: %v", p.name, err)
	}
	return n
}

// accountState is the state /status gives the process's only account.
func (p *proc) accountState() string {
	p.t.Helper()
	var status []struct {
		State string `json:"state"`
	}
	getJSON(p.t, p.health+"/status", &status)
	if len(status) != 1 {
		p.t.Fatalf("%s: /status lists %d accounts, want 1", p.name, len(status))
	}
	return status[0].State
}
