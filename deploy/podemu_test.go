package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Exit statuses of podemu/run.sh besides 0 (passed) and 1 (failed).
const (
	podemuBuildFailed = 3
	podemuSkipped     = 77
)

// TestPodEmulation runs podemu/run.sh: the fake agent and the app, built from
// the repository, in bubblewrap sandboxes shaped like the fake-agent pod
// (read-only root, one shared writable /sigsci/tmp, non-root), a benign and
// an attack request through them, then SIGTERM and a clean exit of both.
func TestPodEmulation(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the pod emulation builds and runs both binaries")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the pod emulation needs Linux namespaces (bubblewrap)")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("the pod emulation script needs bash")
	}

	// The script builds the main module in a child process: declare its
	// sources (and the script) as the test's inputs, so that `go test` reruns
	// it when they change instead of serving a cached result.
	readTree(t, repoRoot, func(path string) bool {
		switch filepath.ToSlash(path) {
		case "../.git", "../bench/out", "../bin", "../dist":
			return true
		case "../deploy":
			readTree(t, "podemu", nil)
			return true
		}
		return false
	})

	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-10*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, bash, "podemu/run.sh")
	cmd.Env = append(os.Environ(),
		"PODEMU_APP_PORT="+freePort(t),
		"PODEMU_STARTUP_PORT="+freePort(t),
	)
	// The script ends its sandboxes itself; this only bounds a hung script.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()

	var exit *exec.ExitError
	switch {
	case err == nil:
		t.Logf("podemu/run.sh:\n%s", out.String())
	case errors.As(err, &exit) && exit.ExitCode() == podemuSkipped:
		t.Fatalf("the pod emulation cannot run on this machine (make setup installs what it needs):\n%s", out.String())
	case errors.As(err, &exit) && exit.ExitCode() == podemuBuildFailed:
		t.Fatalf("podemu/run.sh could not build cmd/helloworld and cmd/fakeagent:\n%s", out.String())
	default:
		t.Fatalf("podemu/run.sh: %v\n%s", err, out.String())
	}
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}
