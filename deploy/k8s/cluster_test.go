//go:build k8snode

package k8s

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed-a2a44e50/ngwaf-helloworld/deploy/internal/kustomize"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// cluster is the node that run.sh brought up, as the environment names it.
type cluster struct {
	kubeconfig string
	kubectlBin string
	ctrSocket  string // containerd's socket, for the containers' PIDs
	kubeletDir string // the kubelet's root directory (pod volumes)
	loadgen    string // the loadgen binary
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{
		kubeconfig: os.Getenv("KUBECONFIG"),
		kubectlBin: os.Getenv("NODE_KUBECTL"),
		ctrSocket:  os.Getenv("NODE_CONTAINERD_SOCK"),
		kubeletDir: os.Getenv("NODE_KUBELET_DIR"),
		loadgen:    os.Getenv("NODE_LOADGEN"),
	}
	if c.kubeconfig == "" || c.kubectlBin == "" || c.ctrSocket == "" || c.kubeletDir == "" || c.loadgen == "" {
		t.Fatal("KUBECONFIG, NODE_KUBECTL, NODE_CONTAINERD_SOCK, NODE_KUBELET_DIR and NODE_LOADGEN must be set: run this suite with deploy/k8s/run.sh (make test-k8s)")
	}
	return c
}

// kubectl runs kubectl with args (stdin optional) and returns its stdout; a
// failure fails the test.
func (c *cluster) kubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, err := c.kubectlErr(stdin, args...)
	require.NoError(t, err)
	return out
}

func (c *cluster) kubectlErr(stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// getJSON decodes `kubectl get ... -o json` into v.
func (c *cluster) getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.kubectl(t, nil, append([]string{"get", "-o", "json"}, args...)...)
	require.NoError(t, json.Unmarshal([]byte(out), v), "decoding kubectl get %v", args)
}

// scenario is one rendering of the example applied to the node in a
// namespace of its own.
type scenario struct {
	c        *cluster
	ns       string
	nodePort int
}

// repo is the repository root, from deploy/k8s.
const repo = "../.."

// apply renders base plus components (repository paths under
// deploy/kubernetes/components) and the test's own patches into namespace
// ns (appDials: the agent address the variant gives the app), applies it and waits until every Deployment has rolled out.
func (c *cluster) apply(t *testing.T, ns string, nodePort int, appDials string, components []string, patches ...kustomize.Patch) *scenario {
	t.Helper()
	c.kubectl(t, nil, "create", "namespace", ns)
	s := &scenario{c: c, ns: ns, nodePort: nodePort}
	t.Cleanup(func() { s.teardown(t) })

	o := kustomize.Overlay{Namespace: ns, Resources: []string{filepath.Join(repo, "deploy/kubernetes/base")}}
	for _, comp := range components {
		o.Components = append(o.Components, filepath.Join(repo, "deploy/kubernetes/components", comp))
	}
	// The host reaches the app's Service through kube-proxy on a NodePort
	// of 127.0.0.1.
	o.Patches = append(o.Patches, kustomize.Patch{Patch: fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: helloworld
spec:
  type: NodePort
  ports:
    - name: http
      port: 8000
      nodePort: %d
`, nodePort)},
		// The app logs every inspection decision (its flags come before the
		// positional arguments, which are the variant's).
		kustomize.Patch{Patch: fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: helloworld
spec:
  template:
    spec:
      containers:
        - name: helloworld
          args: ["-debug", "0.0.0.0:8000", %q]
`, appDials)})
	o.Patches = append(o.Patches, patches...)
	dir := t.TempDir()
	require.NoError(t, o.Write(dir))
	rendered, err := kustomize.Render(dir)
	require.NoError(t, err)
	c.kubectl(t, rendered, "apply", "-f", "-")
	for _, d := range strings.Fields(c.kubectl(t, nil, "get", "deployments", "-n", ns, "-o", "name")) {
		c.kubectl(t, nil, "rollout", "status", "-n", ns, d, "--timeout=180s")
	}
	return s
}

// teardown deletes the scenario's namespace and waits until it is gone.
func (s *scenario) teardown(t *testing.T) {
	if t.Failed() {
		out, _ := s.c.kubectlErr(nil, "get", "events", "-n", s.ns, "--sort-by=.lastTimestamp")
		t.Logf("events in %s:\n%s", s.ns, out)
	}
	// A short grace period: the agent's 30 s preStop was measured already.
	_, _ = s.c.kubectlErr(nil, "delete", "pods", "--all", "-n", s.ns, "--grace-period=1", "--wait=false")
	if _, err := s.c.kubectlErr(nil, "delete", "namespace", s.ns, "--timeout=120s"); err != nil {
		t.Errorf("deleting namespace %s: %v", s.ns, err)
	}
}

// agentEnv is a strategic merge patch that adds env to the agent
// container, wherever the layout puts it.
func agentEnv(deployment, list string, env map[string]string) kustomize.Patch {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      %s:\n        - name: sigsci-agent\n          env:\n", deployment, list)
	for k, v := range env {
		fmt.Fprintf(&b, "            - name: %s\n              value: %q\n", k, v)
	}
	return kustomize.Patch{Patch: b.String()}
}

// demoAgent: the startup probe fails for a few seconds (so its order
// against readiness shows in the events) and every RPC call is logged.
var demoAgent = map[string]string{
	"SIGSCI_FAKE_STARTUP_DELAY":   "5s",
	"SIGSCI_DEBUG_LOG_WEB_INPUTS": "true",
}

// pods returns the scenario's pods matching selector.
func (s *scenario) pods(t *testing.T, selector string) []corev1.Pod {
	t.Helper()
	var l corev1.PodList
	s.c.getJSON(t, &l, "pods", "-n", s.ns, "-l", selector, "--field-selector=status.phase=Running")
	var live []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			live = append(live, p)
		}
	}
	return live
}

func (s *scenario) onePod(t *testing.T, selector string) corev1.Pod {
	t.Helper()
	p := s.pods(t, selector)
	require.Len(t, p, 1, "pods %s in %s", selector, s.ns)
	return p[0]
}

const appSelector = "app.kubernetes.io/name=helloworld"

// sqli is the README's blocked request.
const sqli = "/?q=1'%20OR%20'1'='1"

// checkTraffic sends the README's three requests to base (the Service
// through kube-proxy, or a port-forward): 200, 406, and /headers showing the
// agent's answer.
func checkTraffic(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		resp, err := client.Get(base + path)
		require.NoError(t, err, "GET %s%s", base, path)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, _ := get("/")
	require.Equal(t, http.StatusOK, code, "GET %s/", base)
	code, _ = get(sqli)
	require.Equal(t, http.StatusNotAcceptable, code, "GET %s%s: the SQL injection must be blocked", base, sqli)
	code, body := get("/headers")
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `(?i)X-Sigsci-Agentresponse"?: ?"?200`, body, "GET %s/headers", base)
}

// nodePortURL is the app's Service, through kube-proxy, from the host.
func (s *scenario) nodePortURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.nodePort) }

// portForward runs kubectl port-forward to target's port 8000 on a free
// local port and returns its URL; stopped at the end of the test.
func (s *scenario) portForward(t *testing.T, target string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, s.c.kubectlBin, "port-forward", "-n", s.ns, "--address=127.0.0.1", target, ":8000")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.c.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
		close(port)
	}()
	select {
	case p, ok := <-port:
		require.True(t, ok, "kubectl port-forward %s exited: %s", target, stderr.String())
		return "http://127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward %s: no port after 30 s: %s", target, stderr.String())
		return ""
	}
}

// containerPID finds the host PID of a pod's container through containerd.
func (s *scenario) containerPID(t *testing.T, pod corev1.Pod, name string) int {
	t.Helper()
	var id string
	for _, st := range append(append([]corev1.ContainerStatus{}, pod.Status.ContainerStatuses...), pod.Status.InitContainerStatuses...) {
		if st.Name == name {
			id = strings.TrimPrefix(st.ContainerID, "containerd://")
		}
	}
	require.NotEmpty(t, id, "pod %s has no container %s", pod.Name, name)
	out, err := exec.Command("ctr", "--address", s.c.ctrSocket, "-n", "k8s.io", "tasks", "ls").Output()
	require.NoError(t, err, "ctr tasks ls")
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == id {
			var pid int
			_, err := fmt.Sscan(f[1], &pid)
			require.NoError(t, err)
			return pid
		}
	}
	t.Fatalf("no containerd task %s (container %s of %s)", id, name, pod.Name)
	return 0
}

// checkHardening looks at a running container from the host: its process
// runs as 65532, and its root file system refuses writes (even from root
// on the host: the mount is read-only), while the volume at writable (if
// any) takes them.
func (s *scenario) checkHardening(t *testing.T, pod corev1.Pod, name, writable string) {
	t.Helper()
	pid := s.containerPID(t, pod, name)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`).FindStringSubmatch(string(status))
	require.NotNil(t, uid, "Uid line of /proc/%d/status", pid)
	require.Equal(t, []string{"65532", "65532", "65532", "65532"}, uid[1:], "%s/%s runs as non-root 65532", pod.Name, name)

	root := fmt.Sprintf("/proc/%d/root", pid)
	for _, p := range []string{"/ngwaf-write-test", "/usr/local/bin/ngwaf-write-test", "/etc/ngwaf-write-test"} {
		err := os.WriteFile(root+p, []byte("x"), 0o644)
		require.Error(t, err, "%s/%s: writing %s must fail (read-only root)", pod.Name, name, p)
		require.ErrorContains(t, err, "read-only file system", "%s/%s: writing %s", pod.Name, name, p)
	}
	if writable != "" {
		p := root + writable + "/ngwaf-write-test"
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644), "%s/%s: %s must be writable", pod.Name, name, writable)
		require.NoError(t, os.Remove(p))
	}
}

// logs returns a container's log.
func (s *scenario) logs(t *testing.T, pod, container string) string {
	t.Helper()
	return s.c.kubectl(t, nil, "logs", "-n", s.ns, pod, "-c", container)
}

// events returns the pod's events, oldest first.
func (s *scenario) events(t *testing.T, pod string) []corev1.Event {
	t.Helper()
	var l corev1.EventList
	s.c.getJSON(t, &l, "events", "-n", s.ns, "--field-selector=involvedObject.name="+pod)
	return l.Items
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.FirstTimestamp.Time
}

// checkStartupOrder: the agent's startup probe failed while the rules
// loaded (the fake agent delays them), and the pod turned Ready only after
// the probe's last failure.
func (s *scenario) checkStartupOrder(t *testing.T, pod corev1.Pod) (lastFailure time.Time) {
	t.Helper()
	for _, e := range s.events(t, pod.Name) {
		agent := e.InvolvedObject.FieldPath == "spec.containers{sigsci-agent}" || e.InvolvedObject.FieldPath == "spec.initContainers{sigsci-agent}"
		if agent && e.Reason == "Unhealthy" && strings.Contains(e.Message, "Startup probe failed") {
			if et := eventTime(e); et.After(lastFailure) {
				lastFailure = et
			}
		}
	}
	require.False(t, lastFailure.IsZero(), "pod %s: no failed startup probe of the agent in its events (the fake agent delays its rules by %s)", pod.Name, demoAgent["SIGSCI_FAKE_STARTUP_DELAY"])
	var ready time.Time
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = c.LastTransitionTime.Time
		}
	}
	require.False(t, ready.IsZero(), "pod %s is not Ready", pod.Name)
	// Event times have a resolution of one second.
	require.False(t, ready.Before(lastFailure), "pod %s became Ready at %s, before the agent's startup probe last failed at %s", pod.Name, ready, lastFailure)
	t.Logf("pod %s: agent's startup probe last failed at %s, pod Ready at %s", pod.Name, lastFailure.Format(time.TimeOnly), ready.Format(time.TimeOnly))
	return lastFailure
}

// loadResult is loadgen's summary.
type loadResult struct {
	Total    int            `json:"total"`
	Failed   int            `json:"failed"`
	Seconds  float64        `json:"seconds"`
	Rate     int            `json:"rate"`
	Statuses map[string]int `json:"statuses"`
	Errors   []string       `json:"errors"`
	MaxMs    float64        `json:"max_ms"`
}

// underLoad runs fn while a second process (loadgen) sends steady load to
// url, and returns what that process counted.
func (s *scenario) underLoad(t *testing.T, url string, rate int, fn func()) loadResult {
	t.Helper()
	cmd := exec.Command(s.c.loadgen, "-url", url, "-rate", fmt.Sprint(rate))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	require.NoError(t, err, "loadgen exited before its first good response")
	require.Equal(t, "ready\n", line)
	fn()
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	var res loadResult
	require.NoError(t, json.NewDecoder(r).Decode(&res), "loadgen's summary")
	stopped = true
	require.NoError(t, cmd.Wait())
	return res
}

// result records a measured number for the README (and the log).
func result(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Log("RESULT " + msg)
	if f := os.Getenv("NODE_RESULTS"); f != "" {
		fh, err := os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		defer fh.Close()
		fmt.Fprintf(fh, "%s: %s\n", t.Name(), msg)
	}
}

// logStream follows a container's log until it exits, and says when.
type logStream struct {
	mu    sync.Mutex
	lines []string
	ended time.Time
	done  chan struct{}
}

func (s *scenario) follow(t *testing.T, pod, container string, extra ...string) *logStream {
	t.Helper()
	ls := &logStream{done: make(chan struct{})}
	args := append([]string{"logs", "-f", "-n", s.ns, pod, "-c", container, "--tail=0"}, extra...)
	cmd := exec.Command(s.c.kubectlBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.c.kubeconfig)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		defer close(ls.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ls.mu.Lock()
			ls.lines = append(ls.lines, sc.Text())
			ls.mu.Unlock()
		}
		_ = cmd.Wait()
		ls.mu.Lock()
		ls.ended = time.Now()
		ls.mu.Unlock()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ls.done
	})
	return ls
}

func (ls *logStream) wait(t *testing.T, timeout time.Duration) (time.Time, string) {
	t.Helper()
	select {
	case <-ls.done:
	case <-time.After(timeout):
		t.Fatalf("a container log did not end within %s", timeout)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.ended, strings.Join(ls.lines, "\n")
}

// stampOf is the runtime's timestamp of the first line of log (followed
// with --timestamps) that holds marker: when the container wrote it, not
// when kubectl passed it on.
func stampOf(t *testing.T, log, marker string) time.Time {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		stamp, text, ok := strings.Cut(line, " ")
		if ok && strings.Contains(text, marker) {
			ts, err := time.Parse(time.RFC3339Nano, stamp)
			require.NoError(t, err, "log line %q", line)
			return ts
		}
	}
	t.Fatalf("no log line holds %q:\n%s", marker, log)
	return time.Time{}
}

// emptyDir is the host path of a pod's sigsci-tmp volume.
func (s *scenario) emptyDir(pod corev1.Pod) string {
	return filepath.Join(s.c.kubeletDir, "pods", string(pod.UID), "volumes/kubernetes.io~empty-dir/sigsci-tmp")
}

// watchSocket polls for the socket in the pod's volume every 20 ms until
// the volume is gone, and reports when the socket disappeared while the
// volume was still there.
func watchSocket(dir string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		var gone time.Time
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(dir); err != nil {
				break
			}
			_, err := os.Stat(filepath.Join(dir, "sigsci.sock"))
			if err != nil && gone.IsZero() {
				gone = time.Now()
			} else if err == nil {
				gone = time.Time{}
			}
			time.Sleep(20 * time.Millisecond)
		}
		ch <- gone
	}()
	return ch
}
