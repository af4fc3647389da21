// Package nodejs runs the official Node.js module, sigsci-module-nodejs
// 2.2.1 from npm, unchanged, in front of app.js against the fake agent,
// and runs the conformance suite against it. The test installs the
// module itself (npm ci, from package-lock.json, into node_modules here)
// and fails, never skips, where Node.js or npm is missing.
package nodejs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// moduleVersion is the module the lock file pins.
const moduleVersion = "2.2.1"

// npmTimeout bounds the install, so that an unreachable registry fails
// the test instead of hanging it.
const npmTimeout = 5 * time.Minute

var (
	installOnce sync.Once
	nodePath    string
	installErr  error
)

// requireNode finds Node.js 20 or newer and installs the module from the
// lock file unless node_modules already holds exactly that install.
func requireNode(t *testing.T) string {
	t.Helper()
	installOnce.Do(func() { nodePath, installErr = install() })
	if installErr != nil {
		t.Fatalf("Node.js interop: %v", installErr)
	}
	return nodePath
}

func install() (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found on PATH: install Node.js 20 and npm (e.g. apt-get install nodejs npm): %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", node, err)
	}
	v := strings.TrimSpace(string(out))
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if err != nil || major < 20 {
		return "", fmt.Errorf("%s is Node.js %s: install Node.js 20 or newer", node, v)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm not found on PATH: install npm with Node.js 20: %w", err)
	}
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		return "", fmt.Errorf("reading the lock file: %w", err)
	}
	sum := sha256.Sum256(lock)
	stamp := filepath.Join("node_modules", ".ngwaf-installed")
	want := hex.EncodeToString(sum[:]) + "\n"
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return node, nil
	}
	// Install scripts are not needed (the module is plain JavaScript) and
	// would compile native code for unused dependencies.
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci in interop/nodejs (bounded by %v): %w\n%s", npmTimeout, err, b)
	}
	pkg, err := os.ReadFile(filepath.Join("node_modules", "sigsci-module-nodejs", "package.json"))
	if err != nil || !strings.Contains(string(pkg), `"version": "`+moduleVersion+`"`) {
		return "", fmt.Errorf("npm ci did not install sigsci-module-nodejs %s (%v)", moduleVersion, err)
	}
	if err := os.WriteFile(stamp, []byte(want), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", stamp, err)
	}
	return node, nil
}

// logBuffer collects a process's output for the test log.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startApp runs app.js against the agent at agentAddress and returns its
// base URL once it listens; the process is stopped when the test ends.
func startApp(t *testing.T, agentAddress string) string {
	t.Helper()
	node := requireNode(t)
	cmd := exec.Command(node, "app.js", agentAddress)
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node app.js: %v", err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, r)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("app.js stderr:\n%s", stderr.String())
		}
	})
	select {
	case line := <-lines:
		_, rest, ok := strings.Cut(line, "listening on ")
		if !ok {
			t.Fatalf("app.js did not start: %q\n%s", line, stderr.String())
		}
		url, _, _ := strings.Cut(rest, " ")
		return url
	case <-time.After(30 * time.Second):
		t.Fatalf("app.js did not say it listens within 30s\n%s", stderr.String())
	}
	return ""
}

// client sends the tests' requests; it never follows redirects.
var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func TestWithoutNodeTheTestSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := install()
	if err == nil || !strings.Contains(err.Error(), "install Node.js 20") {
		t.Fatalf("install() without node on PATH = %v, want an error saying to install Node.js 20", err)
	}
}
