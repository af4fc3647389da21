package loadcompare

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a server started for the load comparison: its stdout is
// watched for a ready line, its stdout and stderr go to a log file.
type Process struct {
	Name      string
	ReadyLine string // the line that said it was ready
	LogPath   string

	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

// StartProcess runs bin with args and returns once it printed a line
// starting with readyPrefix on stdout. It fails if the process exits
// first, or prints no such line within readyTimeout or before ctx is done.
func StartProcess(ctx context.Context, name, logDir, readyPrefix string, readyTimeout time.Duration, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logFile
	// Never outlive the load comparison, even if it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, log: logFile, exited: make(chan struct{})}

	ready := make(chan string, 1)
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if !found && strings.HasPrefix(line, readyPrefix) {
				found = true
				ready <- line
			}
		}
		_, _ = io.Copy(logFile, stdout)
	}()
	go func() {
		copied.Wait() // Wait closes stdout: read it all first
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case p.ReadyLine = <-ready:
		return p, nil
	case <-p.exited:
		p.log.Close()
		return nil, fmt.Errorf("%s exited before it was ready (%v); log: %s", name, p.waitErr, tail(logPath))
	case <-timer.C:
		p.Stop()
		return nil, fmt.Errorf("%s printed no %q line within %v; log: %s", name, readyPrefix, readyTimeout, tail(logPath))
	case <-ctx.Done():
		p.Stop()
		return nil, ctx.Err()
	}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to 10s for the process to exit, then
// kills it. It returns the process's exit error, if any besides the
// termination itself.
func (p *Process) Stop() error {
	if !p.Exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		timer := time.NewTimer(10 * time.Second)
		select {
		case <-p.exited:
		case <-timer.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		timer.Stop()
	}
	p.log.Close()
	var exit *exec.ExitError
	if errors.As(p.waitErr, &exit) && !exit.Exited() {
		return nil // ended by our signal
	}
	return p.waitErr
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	if s == "" {
		return "(empty)"
	}
	return "\n" + s
}

// MainModule is the module path of the project whose commands are built.
const MainModule = "github.com/seed-a2a44e50/ngwaf-helloworld"

// Binaries are the built commands.
type Binaries struct {
	Helloworld, FakeAgent string
	GoVersion             string // `go version` of the toolchain that built them
}

// Build builds cmd/helloworld and cmd/fakeagent of the project at root
// (CGO off, -trimpath) into dir with the go command goCmd.
func Build(ctx context.Context, goCmd, root, dir string) (*Binaries, error) {
	cmd := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-o", dir+string(filepath.Separator), "./cmd/helloworld", "./cmd/fakeagent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building helloworld and fakeagent in %s: %w\n%s", root, err, out)
	}
	ver := exec.CommandContext(ctx, goCmd, "version")
	ver.Dir = root
	out, err := ver.Output()
	if err != nil {
		return nil, fmt.Errorf("go version: %w", err)
	}
	return &Binaries{
		Helloworld: filepath.Join(dir, "helloworld"),
		FakeAgent:  filepath.Join(dir, "fakeagent"),
		GoVersion:  strings.TrimSpace(string(out)),
	}, nil
}

// FindRoot returns the directory of the project's main module as the go
// command resolves it from the current directory (the bench module
// replaces it with ../).
func FindRoot(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "list", "-m", "-f", "{{.Dir}}", MainModule).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("locating %s: %w: %s", MainModule, err, exit.Stderr)
		}
		return "", fmt.Errorf("locating %s: %w", MainModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("locating %s: the go command gave no directory", MainModule)
	}
	return dir, nil
}

// GoCommand returns the go command to build with: $GOROOT/bin/go when
// GOROOT is set, else go from PATH.
func GoCommand() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
