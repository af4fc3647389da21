// Command demo runs the local demo without Docker: the fake agent on a
// temporary Unix socket and helloworld in front of it, as the Kubernetes pod
// does, until Ctrl-C.
//
//	demo [-bin DIR] [-listen ADDR] [-admin ADDR] [-mode blocking|not-blocking|off]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin", "directory holding the helloworld and fakeagent binaries")
	listen := fs.String("listen", "127.0.0.1:8000", "helloworld's listen address")
	admin := fs.String("admin", "127.0.0.1:8001", "the fake agent's admin address (dashboard, metrics, recorded requests)")
	mode := fs.String("mode", "blocking", "the fake agent's mode: blocking, not-blocking or off")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := demo(ctx, *bin, *listen, *admin, *mode, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

func demo(ctx context.Context, bin, listen, admin, mode string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "ngwaf-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sigsci.sock")
	if admin, err = freePort(admin); err != nil {
		return err
	}

	agent, agentLine, err := start(ctx, stderr, filepath.Join(bin, "fakeagent"),
		"-rpc-address", sock,
		"-shared-cache-dir", filepath.Join(dir, "cache"),
		"-agent-mode", mode,
		"-admin-address", admin)
	if err != nil {
		return err
	}
	defer agent.stop()

	app, appLine, err := start(ctx, stderr, filepath.Join(bin, "helloworld"), listen, sock)
	if err != nil {
		return err
	}
	defer app.stop()

	url := "http://" + listen
	if _, rest, ok := strings.Cut(appLine, "listening on "); ok {
		url, _, _ = strings.Cut(rest, " ")
	}
	fmt.Fprintf(stdout, `
%s
%s

The demo is running: helloworld at %s, inspected by the fake agent on
unix:%s (mode %s).

Watch it live: open the dashboard at http://%s/ and try:

  curl -i '%s/'                               # benign: 200 Hello, world!
  curl -i "%s/?q=1'%%20OR%%20'1'='1"            # SQL injection: 406 in blocking mode
  curl -s '%s/headers'                        # what the module told the app
  curl -s 'http://%s/requests?limit=5'      # what the agent saw, as JSON

Press Ctrl-C to stop both.
`, strings.TrimSpace(agentLine), strings.TrimSpace(appLine), url, sock, mode, admin, url, url, url, admin)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nstopping...")
		return nil
	case err := <-agent.exited:
		return fmt.Errorf("the fake agent exited: %v", err)
	case err := <-app.exited:
		return fmt.Errorf("helloworld exited: %v", err)
	}
}

// freePort replaces port 0 in addr with a port that is free now, so that
// the URLs the demo prints are the ones the fake agent serves.
func freePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "0" {
		return addr, nil // the fake agent reports a bad address itself
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("finding a free port for -admin %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// process is a child started by the demo.
type process struct {
	cmd    *exec.Cmd
	exited chan error
}

// start runs a binary and waits for its first line on stdout, which both
// print once they are ready. Their logs go to stderr.
func start(ctx context.Context, stderr io.Writer, path string, args ...string) (*process, string, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s (run `make build` first): %w", path, err)
	}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, r)
	}()
	go func() { p.exited <- cmd.Wait() }()
	select {
	case line := <-lines:
		if line == "" {
			err := <-p.exited
			return nil, "", fmt.Errorf("%s exited before it was ready: %v", filepath.Base(path), err)
		}
		return p, line, nil
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s was not ready within 30s", filepath.Base(path))
	}
}

// stop asks the process to shut down gracefully, then kills it if it
// doesn't within 15s.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM) // fails harmlessly once it exited
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		p.exited <- <-p.exited
	}
}
