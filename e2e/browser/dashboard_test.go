// Package browser tests the fake agent's dashboard as a person uses it:
// the fake agent and helloworld run as built binaries, Debian's headless
// Chromium (package chromium, see make setup-browser) opens the
// dashboard, and the test reads what the page shows.
package browser

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the repository's root, relative to this package.
const root = "../.."

var binDir string

// TestMain builds the binaries once.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "browser-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "./cmd/helloworld", "./cmd/fakeagent")
	build.Dir = root
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

// startProc runs a built binary until the test ends and returns the first
// line it printed, which says it is ready.
func startProc(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stderr = &testWriter{t: t, prefix: name + ": "}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	lineC := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		lineC <- line
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	select {
	case line := <-lineC:
		require.NotEmpty(t, line, "%s exited before it was ready", name)
		return line
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print its ready line within 30s", name)
		return ""
	}
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

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// chromium finds Debian's Chromium; make setup-browser installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run `make setup-browser` (apt-get install chromium)")
	return ""
}

// browser starts a headless Chromium for the test, with a fresh profile,
// and collects the page's script errors.
func browser(t *testing.T) (context.Context, *pageErrors) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	errs := &pageErrors{}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += ": " + d.Exception.Description
			}
			errs.add(msg)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				errs.add("console.error: " + strings.Join(parts, " "))
			}
		}
	}))
	return ctx, errs
}

// pageErrors are the script errors a page raised.
type pageErrors struct {
	mu   sync.Mutex
	msgs []string
}

func (p *pageErrors) add(m string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
}

func (p *pageErrors) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

// waitFor polls a JavaScript predicate until it holds, within timeout.
func waitFor(t *testing.T, ctx context.Context, what, predicate string, timeout time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	require.NoError(t, err, "waiting for %s (%s)", what, predicate)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err, "reading %s", sel)
	return strings.TrimSpace(s)
}

// screenshot saves the page as a PNG under bin/, where CI keeps it.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := filepath.Join(root, "bin")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot: %s", abs)
}

// colorScheme emulates prefers-color-scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

func get(t *testing.T, u string) int {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDashboardShowsInspectionLive(t *testing.T) {
	dir, err := os.MkdirTemp("", "browser-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "sigsci.sock")
	admin := freeAddr(t)
	startProc(t, "fakeagent", "-rpc-address", sock, "-shared-cache-dir", filepath.Join(dir, "cache"),
		"-agent-mode", "blocking", "-admin-address", admin)
	ready := startProc(t, "helloworld", "127.0.0.1:0", sock)
	_, rest, ok := strings.Cut(ready, "listening on ")
	require.True(t, ok, ready)
	app, _, _ := strings.Cut(strings.TrimSpace(rest), " ")

	ctx, errs := browser(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+admin+"/")))
	waitFor(t, ctx, "the feed to connect", `document.querySelector("#conn").dataset.state === "live"`, 15*time.Second)
	assert.Equal(t, "blocking", text(t, ctx, "#info-mode"))
	assert.Equal(t, "0", text(t, ctx, "#count-requests"))

	require.Equal(t, 200, get(t, app+"/?name=world"), "a benign request is served")
	require.Equal(t, 406, get(t, app+"/?q="+url.QueryEscape("1' OR '1'='1")), "an SQL injection is blocked")

	t.Run("both requests appear in the feed", func(t *testing.T) {
		waitFor(t, ctx, "two rows", `document.querySelectorAll("#rows tr").length === 2`, 10*time.Second)
		assert.Contains(t, text(t, ctx, `#rows tr[data-decision="allowed"] td.uri`), "/?name=world")
		assert.Equal(t, "allowed", text(t, ctx, `#rows tr[data-decision="allowed"] .badge`))
	})
	t.Run("the attack shows SQLI and 406", func(t *testing.T) {
		assert.Contains(t, text(t, ctx, `#rows tr[data-decision="blocked"] td.signals`), "SQLI")
		assert.Equal(t, "blocked 406", text(t, ctx, `#rows tr[data-decision="blocked"] .badge`))
		assert.Contains(t, text(t, ctx, `#rows tr[data-decision="blocked"] td.uri`), "/?q=1")
		waitFor(t, ctx, "the module's UpdateRequest", `document.querySelector('#rows tr[data-decision="blocked"]').dataset.state === "updated"`, 10*time.Second)
	})
	t.Run("the counters moved", func(t *testing.T) {
		waitFor(t, ctx, "the counters", `document.querySelector("#count-requests").textContent === "2"`, 10*time.Second)
		assert.Equal(t, "1", text(t, ctx, "#count-allowed"))
		assert.Equal(t, "1", text(t, ctx, "#count-blocked"))
		waitFor(t, ctx, "the top signals", `document.querySelector("#top-signals").textContent.includes("SQLI")`, 10*time.Second)
	})
	t.Run("the keyboard opens the detail pane with every field", func(t *testing.T) {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Focus(chromedp.CSS(`#rows tr[data-decision="blocked"]`)),
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.ID("detail")),
		))
		waitFor(t, ctx, "the whole record", `document.querySelector("#detail-body").textContent.includes("HeadersIn")`, 10*time.Second)
		body := text(t, ctx, "#detail-body")
		assert.Contains(t, body, "SQLI")
		assert.Contains(t, body, "UpdateRequest")
		require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape), chromedp.WaitNotVisible(chromedp.ID("detail"))))
	})

	// A little more traffic, so that the screenshots show the charts.
	for _, p := range []string{"/?page=2", "/?q=" + url.QueryEscape("<script>alert(1)</script>"), "/headers", "/missing"} {
		get(t, app+p)
	}
	waitFor(t, ctx, "six rows", `document.querySelectorAll("#rows tr").length === 6`, 10*time.Second)
	waitFor(t, ctx, "the counters", `document.querySelector("#count-requests").textContent === "6"`, 10*time.Second)
	waitFor(t, ctx, "the rate chart", `document.querySelectorAll("#chart-rate polyline").length > 0`, 10*time.Second)
	screenshot(t, ctx, "dashboard-light.png")
	require.NoError(t, chromedp.Do(ctx, colorScheme("dark")))
	waitFor(t, ctx, "the dark scheme", `matchMedia("(prefers-color-scheme: dark)").matches`, 5*time.Second)
	screenshot(t, ctx, "dashboard-dark.png")
	require.NoError(t, chromedp.Do(ctx, colorScheme("light"),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait)))
	waitFor(t, ctx, "the phone layout", `innerWidth === 390`, 5*time.Second)
	screenshot(t, ctx, "dashboard-phone.png")
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)))

	t.Run("the filter hides the benign requests", func(t *testing.T) {
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("filter-text"), "SQLI")))
		waitFor(t, ctx, "the filter", `document.querySelector("#shown").textContent === "1 of 6 shown"`, 5*time.Second)
		shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll("#rows tr")].filter((tr) => tr.offsetParent !== null).map((tr) => tr.querySelector("td.uri").textContent)`))
		require.NoError(t, err)
		require.Len(t, shown, 1, "only the attack is visible")
		assert.Contains(t, shown[0], "/?q=1")
		hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`[...document.querySelectorAll('#rows tr[data-decision="allowed"]')].every((tr) => tr.offsetParent === null)`))
		require.NoError(t, err)
		assert.True(t, hidden, "every benign row is hidden")
		screenshot(t, ctx, "dashboard-filtered.png")
	})
	t.Run("the page raised no script error", func(t *testing.T) {
		assert.Empty(t, errs.list())
	})
}

func TestDashboardBannerOutsideBlockingMode(t *testing.T) {
	for _, c := range []struct{ mode, banner string }{
		{"not-blocking", "Not blocking: the agent tags attacks but lets every request through"},
		{"off", "Off: the agent inspects nothing and allows every request"},
	} {
		t.Run("in "+c.mode+" mode the page says so", func(t *testing.T) {
			dir, err := os.MkdirTemp("", "browser-")
			require.NoError(t, err)
			t.Cleanup(func() { os.RemoveAll(dir) })
			admin := freeAddr(t)
			startProc(t, "fakeagent", "-rpc-address", filepath.Join(dir, "sigsci.sock"),
				"-shared-cache-dir", filepath.Join(dir, "cache"), "-agent-mode", c.mode, "-admin-address", admin)
			ctx, errs := browser(t)
			require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("http://"+admin+"/"), chromedp.WaitVisible(chromedp.ID("banner"))))
			assert.Contains(t, text(t, ctx, "#banner"), c.banner)
			assert.Equal(t, c.mode, text(t, ctx, "#info-mode"))
			if c.mode == "not-blocking" {
				screenshot(t, ctx, "dashboard-not-blocking.png")
			}
			assert.Empty(t, errs.list())
		})
	}
}
