// Package k8s holds the real-node Kubernetes suite: node.sh brings up a
// single-node cluster on this machine (containerd, runc and the CNI
// plugins from Debian; etcd, the Kubernetes components and CoreDNS built
// from the Go module proxy by build-components.sh), run.sh runs the tests
// in this package against it and takes it down again. The tests need the
// k8snode build tag and the environment run.sh sets:
//
//	make test-k8s
//
// Each test applies one combination of the example's kustomize components
// in a namespace of its own and checks it for real: startup order, traffic
// through the Service (kube-proxy) and port-forward, logs, a rolling
// restart under load, pod deletion timing, hardening of the running
// containers, the agent Service's affinity, the disruption budgets and the
// network policy.
package k8s
