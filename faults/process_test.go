package faults

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds on how long a process may take to start and to stop.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 20 * time.Second
)

// process is one of the built binaries, started by a test and ready: its
// first stdout line said where it listens. It is killed when the test ends
// if it is still running, and its output is shown if the test failed.
type process struct {
	name  string
	cmd   *exec.Cmd
	ready string   // the first stdout line
	logs  *lineLog // stdout and stderr, head and tail

	exited  chan struct{} // closed once the process has exited
	waitErr error         // cmd.Wait's result, set before exited is closed
}

// startProcess starts binary name with args and waits for its ready line.
// An error means it did not become ready (it is not running then).
func startProcess(t *testing.T, name string, args ...string) (*process, error) {
	t.Helper()
	logs := newLineLog()
	firstLine := make(chan string, 1)
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = environWithout("SIGSCI_") // the fake agent reads SIGSCI_* options
	cmd.Stdout = &lineWriter{onLine: func(line string) {
		logs.add("stdout: " + line)
		select {
		case firstLine <- line:
		default:
		}
	}}
	cmd.Stderr = &lineWriter{onLine: logs.add}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if err := p.kill(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("%s %s (pid %d) output:\n%s", name, strings.Join(args, " "), cmd.Process.Pid, logs)
		}
	})

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case line := <-firstLine:
		if !strings.Contains(line, "listening on ") {
			_ = p.kill()
			return nil, fmt.Errorf("%s printed %q, not its ready line", name, line)
		}
		p.ready = line
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before it was ready (%v):\n%s", name, p.waitErr, logs)
	case <-timer.C:
		_ = p.kill()
		return nil, fmt.Errorf("%s did not print its ready line within %v:\n%s", name, readyTimeout, logs)
	}
}

// environWithout is the test's environment minus the variables starting
// with prefix.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// pid is the process's id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL, unless the process has exited, and waits for it to
// be gone.
func (p *process) kill() error {
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (pid %d) still running %v after SIGKILL", p.name, p.pid(), stopTimeout)
	}
}

// signal sends sig (e.g. SIGSTOP, SIGCONT) to the process.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to %s: %v", sig, p.name, err)
	}
}

// terminate sends SIGTERM and returns the exit code once the process has
// exited.
func (p *process) terminate(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM to %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not exit within %v of SIGTERM", p.name, stopTimeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// listenAddress extracts what a ready line says after "listening on ",
// up to the next space: "unix:/path", "tcp:host:port" or "http://host:port".
func listenAddress(readyLine string) (string, error) {
	_, rest, ok := strings.Cut(readyLine, "listening on ")
	if !ok {
		return "", fmt.Errorf("unexpected ready line %q", readyLine)
	}
	addr, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	return addr, nil
}

// lineWriter is an io.Writer that calls onLine for every complete line.
// os/exec writes to it from one goroutine.
type lineWriter struct {
	partial []byte
	onLine  func(string)
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			w.partial = append(w.partial, b...)
			break
		}
		w.onLine(string(append(w.partial, b[:i]...)))
		w.partial = w.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

// lineLog keeps the first and the last lines a process wrote: the first
// say where it listens, the last why it failed. Memory stays bounded
// however much is logged under load, and the app's line for every
// blocked request is only counted.
type lineLog struct {
	mu      sync.Mutex
	head    []string
	tail    []string // a ring once full
	next    int      // the ring slot to write next
	dropped int
	routine int           // lines counted, not kept
	changed chan struct{} // closed and replaced at every line
}

// routineLine marks the lines logged for every blocked request.
const routineLine = `msg="inspected request"`

const (
	logHeadLines = 40
	logTailLines = 150
)

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case strings.Contains(line, routineLine):
		l.routine++
		return
	case len(l.head) < logHeadLines:
		l.head = append(l.head, line)
	case len(l.tail) < logTailLines:
		l.tail = append(l.tail, line)
	default:
		l.tail[l.next] = line
		l.next = (l.next + 1) % logTailLines
		l.dropped++
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// value returns the value of the first key=value field logged.
func (l *lineLog) value(key string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lines := range [][]string{l.head, l.tail} {
		for _, line := range lines {
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, key+"="); ok {
					return strings.Trim(v, `"`), true
				}
			}
		}
	}
	return "", false
}

// waitValue waits, at most timeout, for a key=value field to be logged.
func (l *lineLog) waitValue(key string, timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		if v, ok := l.value(key); ok {
			return v, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return "", fmt.Errorf("no %s= logged within %v", key, timeout)
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, line := range l.head {
		b.WriteString(line + "\n")
	}
	if l.dropped > 0 {
		fmt.Fprintf(&b, "... (%d lines left out)\n", l.dropped)
	}
	if l.routine > 0 {
		fmt.Fprintf(&b, "(%d %s lines not kept)\n", l.routine, routineLine)
	}
	for i := range l.tail {
		b.WriteString(l.tail[(l.next+i)%len(l.tail)] + "\n")
	}
	return b.String()
}
