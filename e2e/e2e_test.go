// Package e2e runs the built binaries together, as a user would: the fake
// agent, helloworld in front of it, and the demo that starts both.
package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binDir string

// TestMain builds the binaries once for every test.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/helloworld", "../cmd/fakeagent", "../cmd/demo")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running binary whose first stdout line said it was ready.
type proc struct {
	cmd    *exec.Cmd
	ready  string
	stdout *bufio.Reader
	done   chan error
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stderr = &testWriter{t: t, prefix: name + ": "}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, stdout: bufio.NewReader(out), done: make(chan error, 1)}
	lineC := make(chan string, 1)
	go func() {
		line, _ := p.stdout.ReadString('\n')
		lineC <- line
	}()
	select {
	case p.ready = <-lineC:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s did not print its ready line within 30s", name)
	}
	require.NotEmpty(t, p.ready, "%s exited before it was ready", name)
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// terminate sends SIGTERM and returns the exit code.
func (p *proc) terminate(t *testing.T) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
		p.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit within 30s of SIGTERM", p.cmd.Path)
	}
	return p.cmd.ProcessState.ExitCode()
}

// readyAddr extracts the address after "listening on " in a ready line.
func readyAddr(t *testing.T, line string) string {
	t.Helper()
	_, rest, ok := strings.Cut(line, "listening on ")
	require.True(t, ok, "unexpected ready line %q", line)
	addr, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	return addr
}

// testWriter sends a process's logs to the test log.
type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

const sqli = "1' OR '1'='1"

func TestHelloworldBehindTheFakeAgent(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		for _, mode := range []string{"blocking", "not-blocking"} {
			t.Run(fmt.Sprintf("over %s in %s mode", network, mode), func(t *testing.T) {
				dir, err := os.MkdirTemp("", "e2e-")
				require.NoError(t, err)
				t.Cleanup(func() { os.RemoveAll(dir) })
				sock := filepath.Join(dir, "sigsci.sock")
				rpcAddr := sock
				if network == "tcp" {
					rpcAddr = "127.0.0.1:0"
				}
				agent := startProc(t, "fakeagent",
					"-rpc-address", rpcAddr,
					"-shared-cache-dir", filepath.Join(dir, "cache"),
					"-agent-mode", mode)
				agentAddr := readyAddr(t, agent.ready)
				app := startProc(t, "helloworld", "127.0.0.1:0", agentAddr)
				base := readyAddr(t, app.ready)

				code, body := httpGet(t, base+"/")
				assert.Equal(t, 200, code)
				assert.Equal(t, "Hello, world!\n", body)

				code, body = httpGet(t, base+"/headers?q="+url.QueryEscape(sqli))
				if mode == "blocking" {
					assert.Equal(t, 406, code, body)
				} else {
					require.Equal(t, 200, code, body)
					var h map[string]string
					require.NoError(t, json.Unmarshal([]byte(body), &h))
					assert.Contains(t, h["X-Sigsci-Tags"], "SQLI")
					assert.Equal(t, "200", h["X-Sigsci-Agentresponse"])
					assert.NotEmpty(t, h["X-Sigsci-Requestid"], "a request with signals gets a RequestID")
				}

				if mode == "blocking" {
					// Frameworks read these bodies as forms: the agent must see them.
					for _, cts := range [][]string{
						{"application/x-www-form-urlencoded"},
						{"text/plain, application/x-www-form-urlencoded"},
						{"text/plain", "application/x-www-form-urlencoded"},
					} {
						req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader("q="+url.QueryEscape(sqli)))
						require.NoError(t, err)
						for _, ct := range cts {
							req.Header.Add("Content-Type", ct)
						}
						resp, err := http.DefaultClient.Do(req)
						require.NoError(t, err)
						resp.Body.Close()
						assert.Equal(t, 406, resp.StatusCode, "a POST form attack with Content-Type %q", cts)
					}
				}

				assert.Equal(t, 0, app.terminate(t), "helloworld exits cleanly on SIGTERM")
				assert.Equal(t, 0, agent.terminate(t), "the fake agent exits cleanly on SIGTERM")
				if network == "unix" {
					assert.NoFileExists(t, sock, "the agent removes its socket")
				}
			})
		}
	}
}

func TestTheDemoCommand(t *testing.T) {
	demo := startProc(t, "demo", "-bin", binDir, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0")
	var text strings.Builder
	text.WriteString(demo.ready)
	for !strings.Contains(text.String(), "Press Ctrl-C") {
		line, err := demo.stdout.ReadString('\n')
		require.NoError(t, err, "demo output so far: %s", text.String())
		text.WriteString(line)
	}
	out := text.String()
	_, rest, ok := strings.Cut(out, "helloworld at ")
	require.True(t, ok, out)
	base, _, _ := strings.Cut(rest, ",")

	code, _ := httpGet(t, base+"/")
	assert.Equal(t, 200, code)
	code, _ = httpGet(t, base+"/?q="+url.QueryEscape(sqli))
	assert.Equal(t, 406, code)
	assert.Contains(t, out, "curl -i '"+base+"/'")
	_, rest, ok = strings.Cut(out, "open the dashboard at ")
	require.True(t, ok, out)
	dashboard, _, _ := strings.Cut(rest, " ")
	code, body := httpGet(t, dashboard)
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "/dashboard/app.js", "the demo prints the dashboard's URL")

	require.NoError(t, demo.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-demo.done:
		demo.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30s of Ctrl-C")
	}
	assert.Equal(t, 0, demo.cmd.ProcessState.ExitCode())
	_, err := http.Get(base + "/")
	assert.Error(t, err, "helloworld is stopped with the demo")
}
