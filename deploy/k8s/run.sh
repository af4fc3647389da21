#!/usr/bin/env bash
# make test-k8s: brings up the single-node cluster (node.sh up), runs the
# real-node suite in this package against it, and takes the node down on
# any exit, leaving no process, container, mount or iptables rule behind.
# The images must have been built (deploy/images/build.sh, make
# test-images). Measured numbers are printed at the end (RESULT lines).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
: "${K8S_VERSION:=v1.37.2}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
: "${NODE_STATE:=/var/lib/ngwaf-helloworld-node}"
: "${K8S_TEST_RUN:=.}"
export K8S_VERSION K8S_CACHE NODE_STATE

work=$(mktemp -d)
cleanup() {
	local rc=$?
	"$here/node.sh" down || rc=1
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Time budget: the component builds 40 min cold (about 10 on 2 idle cores;
# cached afterwards), the node 5 min to come up, the suite 30 min (about
# 3 warm).
start=$(date +%s)
timeout 40m "$here/build-components.sh"
printf 'run: components ready in %d s\n' "$(($(date +%s) - start))" >&2
# Whatever an earlier, killed run left behind.
"$here/node.sh" down
export KUBECONFIG
KUBECONFIG=$(timeout 5m "$here/node.sh" up)
printf 'run: node up in %d s\n' "$(($(date +%s) - start))" >&2

cd "$here/.."
go build -o "$work/loadgen" ./k8s/loadgen
export NODE_KUBECTL=$K8S_CACHE/k8s-$K8S_VERSION/bin/kubectl
export NODE_CONTAINERD_SOCK=$NODE_STATE/run/containerd.sock
export NODE_KUBELET_DIR=$NODE_STATE/kubelet
export NODE_LOADGEN=$work/loadgen
export NODE_RESULTS=$work/results.txt
rc=0
go test -tags k8snode -count=1 -v -timeout 30m -run "$K8S_TEST_RUN" ./k8s/ || rc=$?
printf '\nrun: results\n' >&2
cat "$NODE_RESULTS" >&2 2>/dev/null || true
printf 'run: suite finished in %d s (rc %d)\n' "$(($(date +%s) - start))" "$rc" >&2
exit "$rc"
