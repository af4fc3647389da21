package deploy

import (
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names shared by the manifests and the guide they follow.
const (
	appName        = "helloworld"
	agentName      = "sigsci-agent"
	agentTmpVolume = "sigsci-tmp"
	agentTmpMount  = "/sigsci/tmp"
	defaultSocket  = "/sigsci/tmp/sigsci.sock"
	secretName     = "sigsci.my-site-name-here"
	officialAgent  = "signalsciences/sigsci-agent"
	fakeAgent      = "ghcr.io/seed-a2a44e50/ngwaf-fakeagent"
	ourImages      = "ghcr.io/seed-a2a44e50/"
	agentPreStop   = 30 * time.Second
	appDrain       = 10 * time.Second // helloworld's -drain-timeout default
)

// layout says where the agent runs.
type layout int

// inAppPod: the agent shares the app's pod (and its network namespace).
func (l layout) inAppPod() bool { return l != agentService }

const (
	sidecar       layout = iota // in the app's pod
	agentService                // in its own Deployment behind a Service
	nativeSidecar               // in the app's pod, an init container with restartPolicy Always
)

// variant is one rendering of the example and what it must be.
type variant struct {
	name       string
	dir        string   // an overlay (or the base) under kubernetes/
	components []string // or: base plus these components, in this order
	layout     layout
	agentImage string // the agent's image repository
	agentTag   string // its tag; "version" for any X.Y.Z
	agentPull  corev1.PullPolicy
	appDials   string // the app's second argument
	fakeSecret bool   // a dummy Secret is generated
}

var variants = []variant{
	{name: "base", dir: "base", layout: sidecar, agentImage: officialAgent, agentTag: "latest", agentPull: corev1.PullAlways, appDials: defaultSocket},
	{name: "fake-agent", dir: "overlays/fake-agent", layout: sidecar, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: defaultSocket, fakeSecret: true},
	{name: "real-agent", dir: "overlays/real-agent", layout: sidecar, agentImage: officialAgent, agentTag: "version", agentPull: corev1.PullIfNotPresent, appDials: defaultSocket},
	{name: "tcp", dir: "overlays/tcp", layout: sidecar, agentImage: officialAgent, agentTag: "latest", agentPull: corev1.PullAlways, appDials: "localhost:9999"},
	{name: "agent-service", dir: "overlays/agent-service", layout: agentService, agentImage: officialAgent, agentTag: "latest", agentPull: corev1.PullAlways, appDials: "sigsci-agent:9999"},
	// Components combine: a credential-free agent in each other shape.
	{name: "fake-agent with tcp", components: []string{"fake-agent", "tcp"}, layout: sidecar, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: "localhost:9999", fakeSecret: true},
	{name: "fake-agent with agent-service", components: []string{"fake-agent", "agent-service"}, layout: agentService, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: "sigsci-agent:9999", fakeSecret: true},
	{name: "pinned-agent with agent-service", components: []string{"pinned-agent", "agent-service"}, layout: agentService, agentImage: officialAgent, agentTag: "version", agentPull: corev1.PullIfNotPresent, appDials: "sigsci-agent:9999"},
	{name: "native-sidecar", components: []string{"native-sidecar"}, layout: nativeSidecar, agentImage: officialAgent, agentTag: "latest", agentPull: corev1.PullAlways, appDials: defaultSocket},
	{name: "fake-agent with native-sidecar", components: []string{"fake-agent", "native-sidecar"}, layout: nativeSidecar, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: defaultSocket, fakeSecret: true},
	{name: "fake-agent with tcp and native-sidecar", components: []string{"fake-agent", "tcp", "native-sidecar"}, layout: nativeSidecar, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: "localhost:9999", fakeSecret: true},
	{name: "fake-agent with pdb", components: []string{"fake-agent", "pdb"}, layout: sidecar, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: defaultSocket, fakeSecret: true},
	{name: "fake-agent with agent-service, its pdbs and network-policy", components: []string{"fake-agent", "agent-service", "pdb", "pdb-agent-service", "network-policy"}, layout: agentService, agentImage: fakeAgent, agentTag: "dev", agentPull: corev1.PullIfNotPresent, appDials: "sigsci-agent:9999", fakeSecret: true},
}

// pods locates the app and the agent in a rendered variant.
type pods struct {
	m           manifests
	appDeploy   *appsv1.Deployment
	agentDeploy *appsv1.Deployment // the same as appDeploy for a sidecar
	app, agent  *corev1.Container
}

func locate(t *testing.T, m manifests, l layout) pods {
	t.Helper()
	p := pods{m: m, appDeploy: m.deployments[appName]}
	require.NotNil(t, p.appDeploy, "no Deployment %q", appName)
	p.agentDeploy = p.appDeploy
	if l == agentService {
		p.agentDeploy = m.deployments[agentName]
		require.NotNil(t, p.agentDeploy, "no Deployment %q for the agent", agentName)
	}
	p.app = container(p.appDeploy, appName)
	require.NotNil(t, p.app, "Deployment %q has no container %q", p.appDeploy.Name, appName)
	p.agent = container(p.agentDeploy, agentName)
	require.NotNil(t, p.agent, "Deployment %q has no container %q", p.agentDeploy.Name, agentName)
	return p
}

// placed is a container with the Deployment whose pods run it.
type placed struct {
	deploy *appsv1.Deployment
	c      *corev1.Container
}

func (p pods) containers() []placed {
	return []placed{{p.appDeploy, p.app}, {p.agentDeploy, p.agent}}
}

func TestKubernetesManifests(t *testing.T) {
	for _, d := range variants {
		t.Run(d.name, func(t *testing.T) {
			var m manifests
			if d.dir != "" {
				m = render(t, filepath.Join("kubernetes", d.dir))
			} else {
				m = renderComponents(t, d.components...)
			}
			p := locate(t, m, d.layout)
			checkPods(t, d, p)
		})
	}
}

func checkPods(t *testing.T, d variant, p pods) {
	t.Run("every Deployment's selector matches its pod template", func(t *testing.T) {
		for name, dep := range p.m.deployments {
			require.NotNil(t, dep.Spec.Selector, name)
			sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
			require.NoError(t, err, name)
			assert.True(t, sel.Matches(labels.Set(dep.Spec.Template.Labels)), "Deployment %q selects %v, its pods are labelled %v", name, sel, dep.Spec.Template.Labels)
		}
	})

	t.Run("the agent runs where the layout puts it", func(t *testing.T) {
		switch d.layout {
		case sidecar:
			assert.ElementsMatch(t, []string{appName, agentName}, containerNames(p.appDeploy), "the app's pod holds the app and the agent sidecar")
			assert.Len(t, p.m.deployments, 1)
		case nativeSidecar:
			assert.Equal(t, []string{appName}, containerNames(p.appDeploy), "the app is the pod's only regular container")
			init := p.appDeploy.Spec.Template.Spec.InitContainers
			require.Len(t, init, 1, "the agent is the pod's only init container")
			assert.Equal(t, agentName, init[0].Name)
			require.NotNil(t, init[0].RestartPolicy, "a native sidecar has restartPolicy Always")
			assert.Equal(t, corev1.ContainerRestartPolicyAlways, *init[0].RestartPolicy)
			assert.Len(t, p.m.deployments, 1)
		case agentService:
			assert.Equal(t, []string{appName}, containerNames(p.appDeploy), "the app's pod holds no sidecar")
			assert.Equal(t, []string{agentName}, containerNames(p.agentDeploy), "the agent's pod holds only the agent")
			assert.Nil(t, volume(p.appDeploy, agentTmpVolume), "the app's pod keeps no agent volume")
		}
	})

	t.Run("the app listens on every pod interface on port 8000 behind a Service", func(t *testing.T) {
		require.NotEmpty(t, p.app.Args)
		assert.Equal(t, "0.0.0.0:8000", p.app.Args[0], "a localhost listener is unreachable for the Service and the kubelet's probes")
		assert.Contains(t, containerPorts(p.app), int32(8000))
		svc := p.m.services[appName]
		require.NotNil(t, svc, "no Service %q", appName)
		assertServiceReaches(t, svc, 8000, p.appDeploy, p.app, 8000)
	})

	t.Run("the app dials the agent's RPC address as its second argument", func(t *testing.T) {
		require.Len(t, p.app.Args, 2)
		assert.Equal(t, d.appDials, p.app.Args[1])
	})

	t.Run("the agent listens where the app dials", func(t *testing.T) {
		listen := envValue(p.agent, "SIGSCI_RPC_ADDRESS")
		if listen == "" {
			listen = defaultSocket
		}
		dial := d.appDials
		switch {
		case strings.Contains(dial, "/"):
			assert.Equal(t, dial, listen, "the agent's socket path")
			assert.True(t, d.layout.inAppPod(), "a socket is only reachable within the pod")
		case d.layout.inAppPod():
			host, port := splitHostPort(t, dial)
			lhost, lport := splitHostPort(t, listen)
			assert.Equal(t, port, lport)
			assert.Contains(t, []string{"localhost", "127.0.0.1"}, host, "the sidecar is on the pod's loopback")
			assert.Contains(t, []string{"localhost", "127.0.0.1"}, lhost, "keep the RPC inside the pod")
		default:
			host, port := splitHostPort(t, dial)
			svc := p.m.services[host]
			require.NotNil(t, svc, "the app dials %q, which is no Service", host)
			lhost, lport := splitHostPort(t, listen)
			assert.Contains(t, []string{"", "0.0.0.0"}, lhost, "the agent must listen on its pod IP for the Service")
			assertServiceReaches(t, svc, port, p.agentDeploy, p.agent, lport)
			assert.False(t, selects(svc, p.appDeploy), "the agent's Service must not select the app's pods")
		}
	})

	t.Run("the agent's temporary data lives on the sigsci-tmp emptyDir at /sigsci/tmp", func(t *testing.T) {
		v := volume(p.agentDeploy, agentTmpVolume)
		require.NotNil(t, v, "no volume %q in the agent's pod", agentTmpVolume)
		assert.NotNil(t, v.EmptyDir, "volume %q must be an emptyDir", agentTmpVolume)
		assert.Equal(t, agentTmpMount, mountPath(p.agent, agentTmpVolume), "the agent's mount")
		if strings.Contains(d.appDials, "/") {
			assert.Equal(t, agentTmpMount, mountPath(p.app, agentTmpVolume), "the app shares the volume to reach the socket")
		}
	})

	t.Run("the app and the agent share one non-root UID when they share the socket", func(t *testing.T) {
		if !strings.Contains(d.appDials, "/") {
			t.Skip("no socket is shared in this variant")
		}
		appUID, agentUID := runAsUser(p.appDeploy, p.app), runAsUser(p.agentDeploy, p.agent)
		require.NotNil(t, appUID, "set runAsUser: the official agent image names a non-numeric user")
		require.NotNil(t, agentUID, "set runAsUser: the official agent image names a non-numeric user")
		assert.Equal(t, *appUID, *agentUID, "connecting to the agent's socket needs write permission on it")
	})

	t.Run("every container runs as non-root with a read-only root filesystem and no privileges", func(t *testing.T) {
		for _, x := range p.containers() {
			pod := x.deploy.Spec.Template.Spec.SecurityContext
			sc := x.c.SecurityContext
			require.NotNil(t, sc, "container %q has no securityContext", x.c.Name)
			nonRoot := sc.RunAsNonRoot
			if nonRoot == nil && pod != nil {
				nonRoot = pod.RunAsNonRoot
			}
			assert.True(t, nonRoot != nil && *nonRoot, "container %q: runAsNonRoot", x.c.Name)
			if uid := runAsUser(x.deploy, x.c); uid != nil {
				assert.NotZero(t, *uid, "container %q runs as UID 0", x.c.Name)
			}
			assert.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "container %q: readOnlyRootFilesystem", x.c.Name)
			assert.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "container %q: allowPrivilegeEscalation false", x.c.Name)
			assert.True(t, sc.Privileged == nil || !*sc.Privileged, "container %q is privileged", x.c.Name)
			require.NotNil(t, sc.Capabilities, "container %q: capabilities", x.c.Name)
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "container %q drops all capabilities", x.c.Name)
			assert.Empty(t, sc.Capabilities.Add, "container %q adds capabilities", x.c.Name)
			seccomp := sc.SeccompProfile
			if seccomp == nil && pod != nil {
				seccomp = pod.SeccompProfile
			}
			assert.True(t, seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault, "container %q: seccomp RuntimeDefault", x.c.Name)
		}
	})

	t.Run("the agent's credentials come from the sigsci Secret, never from literals", func(t *testing.T) {
		refs := map[string]string{"SIGSCI_ACCESSKEYID": "accesskeyid", "SIGSCI_SECRETACCESSKEY": "secretaccesskey"}
		var names []string
		for envName, key := range refs {
			e := env(p.agent, envName)
			require.NotNil(t, e, "the agent has no %s", envName)
			assert.Empty(t, e.Value, "%s must not be a literal", envName)
			require.True(t, e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil, "%s must come from valueFrom.secretKeyRef", envName)
			assert.Equal(t, key, e.ValueFrom.SecretKeyRef.Key, envName)
			names = append(names, e.ValueFrom.SecretKeyRef.Name)
		}
		require.Len(t, slices.Compact(slices.Sorted(slices.Values(names))), 1, "both keys come from one Secret")
		name := names[0]
		if !d.fakeSecret {
			assert.Equal(t, secretName, name, "the Secret is created by hand under this name")
			assert.Empty(t, p.m.secrets, "real credentials are never rendered into the manifests")
			return
		}
		secret := p.m.secrets[name]
		require.NotNil(t, secret, "the agent refers to Secret %q, which is not generated", name)
		assert.True(t, strings.HasPrefix(name, secretName), "the generated Secret keeps the guide's name (plus kustomize's hash): %q", name)
		for _, key := range refs {
			assert.NotEmpty(t, secret.Data[key], "Secret %q has no %s", name, key)
		}
	})

	t.Run("the agent waits 30 s in preStop before it is stopped, unless it is a native sidecar", func(t *testing.T) {
		if d.layout == nativeSidecar {
			assert.Nil(t, p.agent.Lifecycle, "a native sidecar is stopped after the app: no preStop delay")
			return
		}
		require.NotNil(t, p.agent.Lifecycle, "the agent has no lifecycle hooks")
		got, ok := preStopSleep(p.agent.Lifecycle.PreStop)
		require.True(t, ok, "the agent's preStop must be `sleep 30` (exec) or a sleep action, got %+v", p.agent.Lifecycle.PreStop)
		assert.Equal(t, agentPreStop, got)
	})

	t.Run("nothing execs into our distroless images, which have no shell or sleep", func(t *testing.T) {
		for _, x := range p.containers() {
			image := x.c.Image
			var execs []string
			if l := x.c.Lifecycle; l != nil {
				if l.PreStop != nil && l.PreStop.Exec != nil {
					execs = append(execs, "preStop")
				}
				if l.PostStart != nil && l.PostStart.Exec != nil {
					execs = append(execs, "postStart")
				}
			}
			for what, pr := range map[string]*corev1.Probe{"startupProbe": x.c.StartupProbe, "readinessProbe": x.c.ReadinessProbe, "livenessProbe": x.c.LivenessProbe} {
				if pr != nil && pr.Exec != nil && !ownProbe(pr.Exec.Command) {
					execs = append(execs, what)
				}
			}
			if strings.HasPrefix(image, ourImages) {
				assert.Empty(t, execs, "container %q (%s) execs a command its image lacks", x.c.Name, image)
			} else if len(execs) > 0 {
				assert.True(t, strings.HasPrefix(image, officialAgent+":"), "exec hooks only on the official agent image, which has sleep; %q has %v", image, execs)
			}
		}
	})

	t.Run("the grace period covers the agent's preStop plus the app's drain", func(t *testing.T) {
		drain := drainTimeout(t, p.app)
		for _, dep := range []*appsv1.Deployment{p.appDeploy, p.agentDeploy} {
			grace := dep.Spec.Template.Spec.TerminationGracePeriodSeconds
			require.NotNil(t, grace, "Deployment %q: set terminationGracePeriodSeconds (the default 30 s is used up by the preStop alone)", dep.Name)
			var longest time.Duration
			for _, c := range slices.Concat(dep.Spec.Template.Spec.Containers, dep.Spec.Template.Spec.InitContainers) {
				if c.Lifecycle != nil {
					if d, ok := preStopSleep(c.Lifecycle.PreStop); ok && d > longest {
						longest = d
					}
				}
			}
			assert.GreaterOrEqual(t, time.Duration(*grace)*time.Second, longest+drain, "Deployment %q: %d s < preStop %v + drain %v", dep.Name, *grace, longest, drain)
		}
	})

	t.Run("the agent has a startup probe on its /startup listener", func(t *testing.T) {
		pr := p.agent.StartupProbe
		require.NotNil(t, pr, "the agent has no startupProbe")
		require.NotNil(t, pr.HTTPGet, "the startup probe must GET /startup")
		assert.Equal(t, "/startup", pr.HTTPGet.Path)
		listener := envValue(p.agent, "SIGSCI_STARTUP_PROBE_LISTENER")
		require.NotEmpty(t, listener, "SIGSCI_STARTUP_PROBE_LISTENER turns the /startup listener on")
		_, port := splitHostPort(t, listener)
		assert.Equal(t, port, resolvePort(t, p.agent, pr.HTTPGet.Port), "the probe's port is the listener's")
	})

	t.Run("the app has liveness and readiness probes on /healthz", func(t *testing.T) {
		for what, pr := range map[string]*corev1.Probe{"livenessProbe": p.app.LivenessProbe, "readinessProbe": p.app.ReadinessProbe} {
			require.NotNil(t, pr, "the app has no %s", what)
			require.NotNil(t, pr.HTTPGet, "%s must GET /healthz", what)
			assert.Equal(t, "/healthz", pr.HTTPGet.Path, what)
			assert.Equal(t, 8000, resolvePort(t, p.app, pr.HTTPGet.Port), what)
		}
	})

	t.Run("every container requests CPU and memory and has a memory limit", func(t *testing.T) {
		for _, x := range p.containers() {
			r := x.c.Resources
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				q, ok := r.Requests[res]
				assert.True(t, ok && q.Sign() > 0, "container %q requests no %s", x.c.Name, res)
			}
			limit, ok := r.Limits[corev1.ResourceMemory]
			if assert.True(t, ok, "container %q has no memory limit", x.c.Name) {
				assert.GreaterOrEqual(t, limit.Cmp(r.Requests[corev1.ResourceMemory]), 0, "container %q: memory limit below its request", x.c.Name)
			}
		}
		if strings.HasPrefix(p.agent.Image, officialAgent+":") {
			req := p.agent.Resources.Requests[corev1.ResourceMemory]
			assert.GreaterOrEqual(t, req.Cmp(resource.MustParse("1Gi")), 0, "the official agent uses about 1 GB of memory; it requests %s", req.String())
		}
	})

	t.Run("every image is tagged, and only an Always-pulled image is :latest", func(t *testing.T) {
		for _, x := range p.containers() {
			_, tag, digest := splitImage(x.c.Image)
			assert.True(t, tag != "" || digest != "", "container %q: image %q has no tag", x.c.Name, x.c.Image)
			if tag == "latest" && digest == "" {
				assert.Equal(t, corev1.PullAlways, x.c.ImagePullPolicy, "container %q: %s without imagePullPolicy Always never updates", x.c.Name, x.c.Image)
			}
			assert.NotEmpty(t, x.c.ImagePullPolicy, "container %q: say how the image is pulled", x.c.Name)
		}
	})

	t.Run("the agent's image and pull policy are the variant's", func(t *testing.T) {
		repo, tag, _ := splitImage(p.agent.Image)
		assert.Equal(t, d.agentImage, repo)
		if d.agentTag == "version" {
			assert.Regexp(t, regexp.MustCompile(`^\d+\.\d+\.\d+$`), tag, "a pinned agent version")
		} else {
			assert.Equal(t, d.agentTag, tag)
		}
		assert.Equal(t, d.agentPull, p.agent.ImagePullPolicy)
	})

	t.Run("every PodDisruptionBudget selects exactly one Deployment's pods and allows a disruption", func(t *testing.T) {
		if slices.Contains(d.components, "pdb") {
			require.Contains(t, p.m.pdbs, appName, "the pdb component's budget")
		}
		if slices.Contains(d.components, "pdb-agent-service") {
			require.Contains(t, p.m.pdbs, agentName, "the pdb-agent-service component's budget")
		}
		for name, pdb := range p.m.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			require.NoError(t, err, name)
			var selected []string
			for dn, dep := range p.m.deployments {
				if sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
					selected = append(selected, dn)
				}
			}
			assert.Equal(t, []string{name}, selected, "PodDisruptionBudget %q selects the Deployment of its name", name)
			if pdb.Spec.MinAvailable != nil {
				dep := p.m.deployments[name]
				require.NotNil(t, dep)
				assert.Equal(t, agentName, name, "minAvailable only where an autoscaler keeps two or more pods")
				require.NotNil(t, p.m.hpas[name], "minAvailable %s needs an autoscaler with minReplicas above it", pdb.Spec.MinAvailable)
				assert.Greater(t, *p.m.hpas[name].Spec.MinReplicas, pdb.Spec.MinAvailable.IntVal, "a drain must be able to evict one agent")
			}
		}
	})

	t.Run("a NetworkPolicy admits only the app's pods to the agent's RPC port", func(t *testing.T) {
		if slices.Contains(d.components, "network-policy") {
			require.Contains(t, p.m.policies, agentName, "the network-policy component's policy")
		}
		for name, np := range p.m.policies {
			require.Equal(t, agentService, d.layout, "NetworkPolicy %q: only agent-service has a network hop to police", name)
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			require.NoError(t, err)
			assert.True(t, sel.Matches(labels.Set(p.agentDeploy.Spec.Template.Labels)), "the policy applies to the agent's pods")
			assert.False(t, sel.Matches(labels.Set(p.appDeploy.Spec.Template.Labels)), "and not to the app's")
			assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes)
			require.Len(t, np.Spec.Ingress, 1)
			rule := np.Spec.Ingress[0]
			require.Len(t, rule.From, 1)
			from, err := metav1.LabelSelectorAsSelector(rule.From[0].PodSelector)
			require.NoError(t, err)
			assert.True(t, from.Matches(labels.Set(p.appDeploy.Spec.Template.Labels)), "the app's pods may connect")
			assert.False(t, from.Matches(labels.Set(p.agentDeploy.Spec.Template.Labels)), "nothing else may")
			require.Len(t, rule.Ports, 1)
			_, port := splitHostPort(t, d.appDials)
			assert.Equal(t, port, resolvePort(t, p.agent, *rule.Ports[0].Port), "the port the app dials")
		}
	})

	if d.layout == agentService {
		t.Run("the agent's Service keeps each client on one agent (ClientIP affinity)", func(t *testing.T) {
			host, _ := splitHostPort(t, d.appDials)
			svc := p.m.services[host]
			require.NotNil(t, svc)
			assert.Equal(t, corev1.ServiceAffinityClientIP, svc.Spec.SessionAffinity, "PreRequest and UpdateRequest of one request must reach the same agent")
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				assert.Greater(t, *c.ClientIP.TimeoutSeconds, int32(10), "the agent keeps a request's context about 10 s")
			}
		})
		t.Run("an autoscaling/v2 HorizontalPodAutoscaler scales the agent's Deployment", func(t *testing.T) {
			require.Len(t, p.m.hpas, 1)
			for _, hpa := range p.m.hpas {
				ref := hpa.Spec.ScaleTargetRef
				assert.Equal(t, "apps/v1", ref.APIVersion)
				assert.Equal(t, "Deployment", ref.Kind)
				assert.Equal(t, p.agentDeploy.Name, ref.Name)
				require.NotNil(t, hpa.Spec.MinReplicas)
				assert.GreaterOrEqual(t, *hpa.Spec.MinReplicas, int32(1))
				assert.Greater(t, hpa.Spec.MaxReplicas, *hpa.Spec.MinReplicas)
				assert.NotEmpty(t, hpa.Spec.Metrics)
			}
			assert.Nil(t, p.agentDeploy.Spec.Replicas, "replicas belong to the autoscaler; a fixed count would fight it on every apply")
		})
	} else {
		t.Run("no autoscaler scales the sidecar, which scales with the app", func(t *testing.T) {
			assert.Empty(t, p.m.hpas)
		})
	}
}

// Helpers over the API types.

// container finds a container of d's pod by name, among its containers or
// its init containers (where a native sidecar runs).
func container(d *appsv1.Deployment, name string) *corev1.Container {
	spec := &d.Spec.Template.Spec
	for i := range spec.Containers {
		if c := &spec.Containers[i]; c.Name == name {
			return c
		}
	}
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.Name == name {
			return c
		}
	}
	return nil
}

func containerNames(d *appsv1.Deployment) []string {
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	return names
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i := range d.Spec.Template.Spec.Volumes {
		if v := &d.Spec.Template.Spec.Volumes[i]; v.Name == name {
			return v
		}
	}
	return nil
}

func mountPath(c *corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

func env(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func envValue(c *corev1.Container, name string) string {
	if e := env(c, name); e != nil {
		return e.Value
	}
	return ""
}

func containerPorts(c *corev1.Container) []int32 {
	var ports []int32
	for _, p := range c.Ports {
		ports = append(ports, p.ContainerPort)
	}
	return ports
}

// resolvePort turns a probe's or Service's port (number or name) into the
// container's port number.
func resolvePort(t *testing.T, c *corev1.Container, port intstr.IntOrString) int {
	t.Helper()
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort)
		}
	}
	t.Errorf("container %q has no port named %q", c.Name, port.StrVal)
	return 0
}

func runAsUser(d *appsv1.Deployment, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod := d.Spec.Template.Spec.SecurityContext; pod != nil {
		return pod.RunAsUser
	}
	return nil
}

func selects(svc *corev1.Service, d *appsv1.Deployment) bool {
	if len(svc.Spec.Selector) == 0 {
		return false
	}
	return labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
}

// assertServiceReaches checks that svc's port servicePort selects d's pods
// and lands on container c's port containerPort.
func assertServiceReaches(t *testing.T, svc *corev1.Service, servicePort int, d *appsv1.Deployment, c *corev1.Container, containerPort int) {
	t.Helper()
	assert.True(t, selects(svc, d), "Service %q does not select the pods of Deployment %q", svc.Name, d.Name)
	for _, p := range svc.Spec.Ports {
		if int(p.Port) != servicePort {
			continue
		}
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		assert.Equal(t, containerPort, resolvePort(t, c, target), "Service %q port %d", svc.Name, servicePort)
		return
	}
	t.Errorf("Service %q has no port %d", svc.Name, servicePort)
}

// preStopSleep returns how long a preStop hook holds the container: a
// kubelet sleep action, or an exec of `sleep N`.
func preStopSleep(h *corev1.LifecycleHandler) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	set := 0
	for _, isSet := range []bool{h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.Sleep != nil} {
		if isSet {
			set++
		}
	}
	switch {
	case set != 1:
		// The API server rejects a handler with more than one action.
		return 0, false
	case h.Sleep != nil:
		return time.Duration(h.Sleep.Seconds) * time.Second, true
	case h.Exec != nil && len(h.Exec.Command) == 2 && (h.Exec.Command[0] == "sleep" || h.Exec.Command[0] == "/bin/sleep"):
		n, err := strconv.Atoi(h.Exec.Command[1])
		if err != nil {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}

// ownProbe reports whether an exec probe runs one of our binaries' probe
// subcommands, which exist in our images.
func ownProbe(cmd []string) bool {
	return len(cmd) >= 2 && cmd[1] == "probe" && (filepath.Base(cmd[0]) == "helloworld" || filepath.Base(cmd[0]) == "fakeagent")
}

// drainTimeout is the app's -drain-timeout flag, or its default.
func drainTimeout(t *testing.T, c *corev1.Container) time.Duration {
	t.Helper()
	args := append(slices.Clone(c.Command), c.Args...)
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "drain-timeout" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		d, err := time.ParseDuration(value)
		require.NoError(t, err, "-drain-timeout %q", value)
		return d
	}
	return appDrain
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	addr = strings.TrimPrefix(addr, "tcp:")
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err, "address %q", addr)
	n, err := strconv.Atoi(port)
	require.NoError(t, err, "port of %q", addr)
	return host, n
}

// splitImage splits an image reference into repository, tag and digest.
func splitImage(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	// A colon after the last slash separates the tag (one before it is a
	// registry's port).
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}
