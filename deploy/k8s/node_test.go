//go:build k8snode

package k8s

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The grace period of the example's pod, and the agent's preStop sleep.
const (
	gracePeriod  = 45 * time.Second
	agentPreStop = 30 * time.Second
	appPreStop   = 5 * time.Second
)

// TestFakeAgentSidecar is overlays/fake-agent, the README's credential-free
// example: the agent as a sidecar on the shared socket.
func TestFakeAgentSidecar(t *testing.T) {
	c := newCluster(t)
	s := c.apply(t, "fake-agent", 30080, "/sigsci/tmp/sigsci.sock", []string{"fake-agent"},
		agentEnv("helloworld", "containers", demoAgent))
	pod := s.onePod(t, appSelector)

	t.Run("the pod turns Ready only after the agent's startup probe passes", func(t *testing.T) {
		s.checkStartupOrder(t, pod)
	})
	t.Run("200, 406 and /headers through the Service (kube-proxy NodePort on 127.0.0.1)", func(t *testing.T) {
		checkTraffic(t, s.nodePortURL())
	})
	t.Run("200, 406 and /headers through kubectl port-forward", func(t *testing.T) {
		checkTraffic(t, s.portForward(t, "service/helloworld"))
	})
	t.Run("kubectl logs of both containers show the requests", func(t *testing.T) {
		app := s.logs(t, pod.Name, "helloworld")
		assert.Contains(t, app, "q=1'", "the app's log shows the blocked request")
		agent := s.logs(t, pod.Name, "sigsci-agent")
		assert.Regexp(t, `msg=PreRequest .*uri="/\?q=1'`, agent, "the agent's log shows the blocked request")
		assert.Regexp(t, `msg=PreRequest .*uri=/headers`, agent, "the agent's log shows /headers")
	})
	t.Run("both containers run as 65532 on a read-only root", func(t *testing.T) {
		s.checkHardening(t, pod, "helloworld", "/sigsci/tmp")
		s.checkHardening(t, pod, "sigsci-agent", "/sigsci/tmp")
	})
	t.Run("a rolling restart under steady load fails no request", func(t *testing.T) {
		res := s.underLoad(t, s.nodePortURL()+"/", 50, func() {
			start := time.Now()
			c.kubectl(t, nil, "rollout", "restart", "-n", s.ns, "deployment/helloworld")
			c.kubectl(t, nil, "rollout", "status", "-n", s.ns, "deployment/helloworld", "--timeout=180s")
			// Until the old pod is gone: its whole shutdown is under load.
			c.kubectl(t, nil, "wait", "-n", s.ns, "--for=delete", "pod/"+pod.Name, "--timeout=120s")
			result(t, "rollout restart took %.1f s until the old pod was gone", time.Since(start).Seconds())
		})
		result(t, "%d requests in %.1f s at %d/s through the NodePort, %d failed, statuses %v, slowest %.0f ms", res.Total, res.Seconds, res.Rate, res.Failed, res.Statuses, res.MaxMs)
		require.Zero(t, res.Failed, "failed requests during the rolling restart: %v", res.Errors)
		require.Greater(t, res.Total, 1000, "the load ran through the restart")
	})
	t.Run("kubectl delete pod: the app drains, the agent outlives it, the socket goes, within the grace period", func(t *testing.T) {
		pod := s.onePod(t, appSelector)
		app := s.follow(t, pod.Name, "helloworld")
		agent := s.follow(t, pod.Name, "sigsci-agent")
		socket := watchSocket(s.emptyDir(pod))
		start := time.Now()
		c.kubectl(t, nil, "delete", "pod", "-n", s.ns, pod.Name, "--wait=true", "--timeout=90s")
		took := time.Since(start)
		appEnd, appLog := app.wait(t, 30*time.Second)
		agentEnd, agentLog := agent.wait(t, 30*time.Second)
		gone := <-socket
		result(t, "kubectl delete pod took %.1f s (grace period %s); app exited after %.1f s, agent after %.1f s", took.Seconds(), gracePeriod, appEnd.Sub(start).Seconds(), agentEnd.Sub(start).Seconds())
		assert.Contains(t, appLog, "draining in-flight requests")
		assert.Contains(t, appLog, "helloworld stopped cleanly")
		assert.Contains(t, agentLog, "shutting down")
		assert.True(t, agentEnd.After(appEnd), "the agent (ended %s) outlives the app (ended %s)", agentEnd, appEnd)
		assert.GreaterOrEqual(t, agentEnd.Sub(start), agentPreStop, "the agent's preStop holds it for 30 s")
		require.False(t, gone.IsZero(), "the agent's socket was still in the volume when the volume went")
		assert.False(t, gone.Before(appEnd), "the socket disappeared (%s) before the app stopped (%s)", gone, appEnd)
		assert.Less(t, took, gracePeriod, "the pod's deletion ends within terminationGracePeriodSeconds")
	})
}

// TestFakeAgentTCP is the fake agent with the tcp component: RPC on
// localhost:9999 inside the pod.
func TestFakeAgentTCP(t *testing.T) {
	c := newCluster(t)
	s := c.apply(t, "fake-agent-tcp", 30081, "localhost:9999", []string{"fake-agent", "tcp"},
		agentEnv("helloworld", "containers", demoAgent))
	pod := s.onePod(t, appSelector)
	t.Run("the pod turns Ready only after the agent's startup probe passes", func(t *testing.T) {
		s.checkStartupOrder(t, pod)
	})
	t.Run("200, 406 and /headers through the Service and through port-forward", func(t *testing.T) {
		checkTraffic(t, s.nodePortURL())
		checkTraffic(t, s.portForward(t, "deployment/helloworld"))
	})
	t.Run("the agent serves RPC on TCP, not on a socket", func(t *testing.T) {
		agent := s.logs(t, pod.Name, "sigsci-agent")
		assert.Regexp(t, `msg=listening .*127\.0\.0\.1:9999`, agent)
		assert.Regexp(t, `msg=PreRequest .*uri=/headers`, agent)
	})
	t.Run("both containers run as 65532 on a read-only root", func(t *testing.T) {
		s.checkHardening(t, pod, "helloworld", "")
		s.checkHardening(t, pod, "sigsci-agent", "/sigsci/tmp")
	})
}

// TestFakeAgentService is fake-agent with agent-service (the README's
// combination), plus the PodDisruptionBudgets and the NetworkPolicy.
func TestFakeAgentService(t *testing.T) {
	c := newCluster(t)
	s := c.apply(t, "agent-service", 30082, "sigsci-agent:9999", []string{"fake-agent", "agent-service", "pdb", "pdb-agent-service", "network-policy"},
		agentEnv("sigsci-agent", "containers", demoAgent))
	agentSelector := "app.kubernetes.io/name=sigsci-agent"

	// The autoscaler's minReplicas (2) scales the agent from the
	// Deployment's default of 1, with or without metrics.
	c.kubectl(t, nil, "wait", "-n", s.ns, "deployment/sigsci-agent", "--for=jsonpath={.status.availableReplicas}=2", "--timeout=180s")
	agents := s.pods(t, agentSelector)
	require.Len(t, agents, 2, "two agent replicas")
	app := s.onePod(t, appSelector)

	t.Run("each agent pod turns Ready only after its startup probe passes", func(t *testing.T) {
		for _, a := range agents {
			s.checkStartupOrder(t, a)
		}
	})
	t.Run("200, 406 and /headers through the Service and through port-forward", func(t *testing.T) {
		checkTraffic(t, s.nodePortURL())
		checkTraffic(t, s.portForward(t, "service/helloworld"))
	})
	t.Run("app requests keep their agent: every UpdateRequest lands on the agent that saw its PreRequest", func(t *testing.T) {
		const n = 30
		for i := range n {
			resp, err := httpGet(fmt.Sprintf("%s/?q=1'%%20OR%%20'1'='1&i=%d", s.nodePortURL(), i))
			require.NoError(t, err)
			require.Equal(t, 406, resp)
		}
		known, unknown, preByAgent := 0, 0, map[string]int{}
		for _, a := range agents {
			log := s.logs(t, a.Name, "sigsci-agent")
			known += len(regexp.MustCompile(`msg=UpdateRequest .*known=true`).FindAllString(log, -1))
			unknown += len(regexp.MustCompile(`msg=UpdateRequest .*known=false`).FindAllString(log, -1))
			preByAgent[a.Name] = len(regexp.MustCompile(`msg=PreRequest .*uri="/\?q=1'%20OR%20'1'='1&i=`).FindAllString(log, -1))
		}
		result(t, "%d blocked requests through 2 agents: PreRequests per agent %v, UpdateRequests known %d, unknown %d", n, preByAgent, known, unknown)
		assert.Zero(t, unknown, "UpdateRequests that reached an agent that had not seen the PreRequest")
		assert.GreaterOrEqual(t, known, n, "every blocked request's UpdateRequest reached its agent")
		total := 0
		for _, v := range preByAgent {
			total += v
		}
		assert.Equal(t, n, total)
	})
	t.Run("the app pod has no sidecar and both kinds of pod are hardened", func(t *testing.T) {
		require.Len(t, app.Spec.Containers, 1)
		s.checkHardening(t, app, "helloworld", "")
		for _, a := range agents {
			s.checkHardening(t, a, "sigsci-agent", "/sigsci/tmp")
		}
	})
	t.Run("the PodDisruptionBudgets select the right pods and allow one disruption", func(t *testing.T) {
		var agentPDB, appPDB policyv1.PodDisruptionBudget
		c.kubectl(t, nil, "wait", "-n", s.ns, "pdb/sigsci-agent", "--for=jsonpath={.status.currentHealthy}=2", "--timeout=60s")
		s.c.getJSON(t, &agentPDB, "pdb", "-n", s.ns, "sigsci-agent")
		s.c.getJSON(t, &appPDB, "pdb", "-n", s.ns, "helloworld")
		assert.EqualValues(t, 2, agentPDB.Status.ExpectedPods)
		assert.EqualValues(t, 1, agentPDB.Status.DisruptionsAllowed, "minAvailable 1 of 2 agents")
		assert.EqualValues(t, 1, appPDB.Status.ExpectedPods)
		assert.EqualValues(t, 1, appPDB.Status.DisruptionsAllowed, "maxUnavailable 1")
	})
	t.Run("the NetworkPolicy is accepted and selects the agents, admitting only the app", func(t *testing.T) {
		var np networkingv1.NetworkPolicy
		s.c.getJSON(t, &np, "networkpolicy", "-n", s.ns, "sigsci-agent")
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		require.NoError(t, err)
		selected := s.pods(t, sel.String())
		assert.ElementsMatch(t, podNames(agents), podNames(selected), "the policy applies to the agent pods")
		require.Len(t, np.Spec.Ingress, 1)
		require.Len(t, np.Spec.Ingress[0].From, 1)
		from, err := metav1.LabelSelectorAsSelector(np.Spec.Ingress[0].From[0].PodSelector)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{app.Name}, podNames(s.pods(t, from.String())), "only the app's pods may connect")
		assert.False(t, from.Matches(labels.Set(agents[0].Labels)), "agents do not admit each other")
		require.Len(t, np.Spec.Ingress[0].Ports, 1)
		assert.Equal(t, "rpc", np.Spec.Ingress[0].Ports[0].Port.String())
	})
}

// TestNativeSidecar is fake-agent with native-sidecar: the agent as an init
// container with restartPolicy Always.
func TestNativeSidecar(t *testing.T) {
	c := newCluster(t)
	s := c.apply(t, "native-sidecar", 30083, "/sigsci/tmp/sigsci.sock", []string{"fake-agent", "native-sidecar"},
		agentEnv("helloworld", "initContainers", demoAgent))
	pod := s.onePod(t, appSelector)

	t.Run("the agent is a sidecar init container and the app starts after its startup probe passes", func(t *testing.T) {
		require.Len(t, pod.Spec.InitContainers, 1)
		require.NotNil(t, pod.Spec.InitContainers[0].RestartPolicy)
		assert.Equal(t, corev1.ContainerRestartPolicyAlways, *pod.Spec.InitContainers[0].RestartPolicy)
		lastFailure := s.checkStartupOrder(t, pod)
		var appStarted time.Time
		for _, st := range pod.Status.ContainerStatuses {
			if st.Name == "helloworld" && st.State.Running != nil {
				appStarted = st.State.Running.StartedAt.Time
			}
		}
		require.False(t, appStarted.IsZero())
		assert.False(t, appStarted.Before(lastFailure), "the app started at %s, before the agent's startup probe last failed (%s)", appStarted, lastFailure)
	})
	t.Run("200, 406 and /headers through the Service and through port-forward", func(t *testing.T) {
		checkTraffic(t, s.nodePortURL())
		checkTraffic(t, s.portForward(t, "service/helloworld"))
	})
	t.Run("both containers run as 65532 on a read-only root", func(t *testing.T) {
		s.checkHardening(t, pod, "helloworld", "/sigsci/tmp")
		s.checkHardening(t, pod, "sigsci-agent", "/sigsci/tmp")
	})
	t.Run("kubectl delete pod: the agent stops after the app, with no 30 s sleep", func(t *testing.T) {
		// With timestamps: the two containers end milliseconds apart, closer
		// than two kubectl log streams report their ends.
		app := s.follow(t, pod.Name, "helloworld", "--timestamps")
		agent := s.follow(t, pod.Name, "sigsci-agent", "--timestamps")
		start := time.Now()
		c.kubectl(t, nil, "delete", "pod", "-n", s.ns, pod.Name, "--wait=true", "--timeout=90s")
		took := time.Since(start)
		appEnd, appLog := app.wait(t, 30*time.Second)
		agentEnd, agentLog := agent.wait(t, 30*time.Second)
		result(t, "native sidecar: kubectl delete pod took %.1f s; app exited after %.1f s, agent after %.1f s", took.Seconds(), appEnd.Sub(start).Seconds(), agentEnd.Sub(start).Seconds())
		appStopped := stampOf(t, appLog, "helloworld stopped cleanly")
		agentStopping := stampOf(t, agentLog, "shutting down")
		assert.True(t, agentStopping.After(appStopped), "the agent began shutting down (%s) before the app had stopped (%s)", agentStopping, appStopped)
		assert.GreaterOrEqual(t, appEnd.Sub(start), appPreStop, "the app's preStop")
		assert.Less(t, took, agentPreStop, "no 30 s preStop for a native sidecar")
	})
}

func podNames(pods []corev1.Pod) []string {
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	return names
}

// httpGet returns the status of GET url.
func httpGet(url string) (int, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
