#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for the deployment
# tests (deploy/k8s, make test-k8s):
#   node.sh up      builds or reuses the components (build-components.sh),
#                   starts containerd, etcd, kube-apiserver,
#                   kube-controller-manager, kube-scheduler, kubelet,
#                   kube-proxy (iptables) and CoreDNS, imports the pause
#                   image and our two images, and waits until the node is
#                   Ready; prints the kubeconfig's path.
#   node.sh down    stops every process it started (by PID), removes every
#                   container, mount, iptables rule, bridge and file it made.
# Everything binds to 127.0.0.1, except the kubelet and CoreDNS: they bind
# the pod bridge's gateway, 10.244.0.1, the node's IP (the kubelet refuses
# a loopback node IP), on a bridge this script makes and removes. The API
# server reaches the kubelet there (logs, port-forward); the pods find DNS
# there. NodePorts are served on 127.0.0.1 only.
# Everything comes from the Go module proxy and Debian packages: nothing is
# pulled (the pause image is our own, built here). Needs root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${K8S_VERSION:=v1.37.2}"
: "${ETCD_VERSION:=v3.7.3}"
: "${COREDNS_VERSION:=v1.12.4}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
: "${NODE_STATE:=/var/lib/ngwaf-helloworld-node}"
: "${IMAGE_VERSION:=dev}"
export K8S_VERSION ETCD_VERSION COREDNS_VERSION K8S_CACHE
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"

run=$NODE_STATE/run        # sockets and PID files
pki=$NODE_STATE/pki
logs=$NODE_STATE/logs
kbin=$K8S_CACHE/k8s-$K8S_VERSION/bin
etcd_bin=$K8S_CACHE/etcd-$ETCD_VERSION/bin/etcd
coredns_bin=$K8S_CACHE/coredns-$COREDNS_VERSION/bin/coredns
export KUBECONFIG=$NODE_STATE/admin.kubeconfig
containerd_sock=$run/containerd.sock
bridge=ngwaf0
pod_cidr=10.244.0.0/24
gateway=10.244.0.1
service_cidr=10.96.0.0/24
dns_ip=$gateway
apiserver=https://127.0.0.1:16443
pause_image=localhost/ngwaf-helloworld/pause:local
node_name=ngwaf-node

log() { printf '%s node: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

# start NAME CMD...: runs CMD in its own session, logs to logs/NAME.log,
# records its PID.
start() {
	local name=$1
	shift
	setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
	echo $! >"$run/$name.pid"
}

# try_for TRIES CMD...: CMD until it succeeds, 0.5 s apart; 1 if it never
# does.
try_for() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	return 1
}

# wait_for WHAT TRIES CMD...: try_for, or fail saying what never came.
wait_for() {
	local what=$1
	shift
	try_for "$@" || fail "timed out waiting for $what"
}

kubectl() { "$kbin/kubectl" "$@"; }
ctr() { command ctr --address "$containerd_sock" -n k8s.io "$@"; }

make_pki() {
	[ -f "$pki/admin.crt" ] && return
	mkdir -p "$pki"
	(
		cd "$pki"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=ngwaf-node-ca 2>/dev/null
		cat >apiserver.ext <<-X
			subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc
			extendedKeyUsage=serverAuth
		X
		openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile apiserver.ext -out apiserver.crt 2>/dev/null
		# One client identity in system:masters for every component and the
		# tests: a throw-away cluster, authorization is not what is tested.
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=ngwaf-admin" 2>/dev/null
		openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out admin.crt 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
	kubectl config set-cluster node --server="$apiserver" --certificate-authority="$pki/ca.crt" --embed-certs >/dev/null
	kubectl config set-credentials admin --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs >/dev/null
	kubectl config set-context node --cluster=node --user=admin >/dev/null
	kubectl config use-context node >/dev/null
}

write_configs() {
	mkdir -p "$NODE_STATE/cni" "$NODE_STATE/containerd"
	cat >"$NODE_STATE/cni/10-ngwaf.conflist" <<-J
		{
		  "cniVersion": "1.0.0",
		  "name": "ngwaf",
		  "plugins": [
		    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "isDefaultGateway": true,
		     "ipMasq": true, "hairpinMode": true,
		     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr", "gateway": "$gateway"}]],
		              "dataDir": "$NODE_STATE/cni-ipam"}},
		    {"type": "portmap", "capabilities": {"portMappings": true}},
		    {"type": "loopback"}
		  ]
		}
	J
	cat >"$NODE_STATE/containerd/config.toml" <<-T
		version = 2
		root = "$NODE_STATE/containerd/root"
		state = "$run/containerd-state"
		[grpc]
		  address = "$containerd_sock"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$pause_image"
		  # This VM refuses negative oom_score_adj values.
		  restrict_oom_score_adj = true
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$NODE_STATE/cni"
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
	T
	cat >"$NODE_STATE/kubelet.yaml" <<-Y
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		# The node's IP: the kubelet refuses a loopback one.
		address: $gateway
		port: 10250
		healthzBindAddress: 127.0.0.1
		readOnlyPort: 0
		cgroupDriver: cgroupfs
		# This host has cgroup v1 only.
		failCgroupV1: false
		containerRuntimeEndpoint: unix://$containerd_sock
		clusterDNS: ["$dns_ip"]
		clusterDomain: cluster.local
		resolvConf: $NODE_STATE/resolv.conf
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: false}
		  x509: {clientCAFile: $pki/ca.crt}
		authorization: {mode: AlwaysAllow}
		staticPodPath: ""
		podCIDR: $pod_cidr
		maxPods: 30
		serializeImagePulls: false
		# Nothing here is worth evicting for: the disk is shared with the
		# rest of the machine.
		evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		failSwapOn: false
		protectKernelDefaults: false
		makeIPTablesUtilChains: true
	Y
	# Pods resolve cluster names through CoreDNS only; nothing outside.
	printf 'nameserver %s\n' "$dns_ip" >"$NODE_STATE/resolv.conf"
	cat >"$NODE_STATE/Corefile" <<-C
		cluster.local:53 {
		    bind $dns_ip
		    errors
		    kubernetes cluster.local {
		        kubeconfig $KUBECONFIG node
		        pods insecure
		    }
		    cache 5
		}
		.:53 {
		    bind $dns_ip
		    errors
		}
	C
	cat >"$NODE_STATE/kube-proxy.yaml" <<-Y
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		mode: iptables
		clientConnection: {kubeconfig: $KUBECONFIG}
		clusterCIDR: $pod_cidr
		hostnameOverride: $node_name
		bindAddress: 127.0.0.1
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		# NodePorts on loopback only: the host reaches Services through them.
		nodePortAddresses: ["127.0.0.0/8"]
		conntrack: {maxPerCore: 0}
		iptables: {localhostNodePorts: true}
	Y
}

# A static pause binary FROM scratch, as the pod sandbox image.
pause_image() {
	if ctr images ls -q | grep -qx "$pause_image"; then return; fi
	local ctx
	ctx=$(mktemp -d)
	(cd "$here" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$ctx/pause" ./pause)
	printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\nLABEL org.ngwaf-helloworld.stand-in=true\n' >"$ctx/Containerfile"
	podman build -q --pull=never -t "$pause_image" "$ctx" >/dev/null
	podman save -q --format docker-archive -o "$ctx/pause.tar" "$pause_image"
	ctr images import "$ctx/pause.tar" >/dev/null
	rm -rf "$ctx"
}

import_images() {
	local ref tar
	for ref in ghcr.io/seed-a2a44e50/ngwaf-helloworld:"$IMAGE_VERSION" ghcr.io/seed-a2a44e50/ngwaf-fakeagent:"$IMAGE_VERSION"; do
		podman image exists "$ref" || fail "$ref is not in podman's storage: run deploy/images/build.sh first"
		tar=$(mktemp)
		podman save -q --format docker-archive -o "$tar" "$ref"
		ctr images import "$tar" >/dev/null
		rm -f "$tar"
	done
}

up() {
	[ "$(id -u)" -eq 0 ] || fail "needs root"
	if [ -f "$run/kubelet.pid" ]; then fail "a node is already up in $NODE_STATE (node.sh down first)"; fi
	"$here/build-components.sh"
	mkdir -p "$run" "$logs"
	make_pki
	write_configs
	ls /run/netns 2>/dev/null >"$run/netns.before" || true
	cat /proc/sys/net/ipv4/ip_forward >"$run/ip_forward.orig"
	echo 1 >/proc/sys/net/ipv4/ip_forward
	echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
	# The bridge before its first pod, so CoreDNS can bind its gateway.
	if ! ip link show "$bridge" >/dev/null 2>&1; then
		ip link add "$bridge" type bridge
		ip addr add "$gateway/24" dev "$bridge"
		ip link set "$bridge" up
	fi

	log "containerd"
	start containerd containerd --config "$NODE_STATE/containerd/config.toml"
	wait_for containerd 60 ctr version
	log "etcd"
	start etcd "$etcd_bin" --data-dir "$NODE_STATE/etcd" --name node \
		--listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
		--listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
		--initial-cluster node=http://127.0.0.1:12380 --listen-metrics-urls http://127.0.0.1:12381 \
		--quota-backend-bytes 1073741824
	log "kube-apiserver"
	start kube-apiserver "$kbin/kube-apiserver" --etcd-servers http://127.0.0.1:12379 \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port 16443 \
		--endpoint-reconciler-type none \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key" \
		--kubelet-preferred-address-types InternalIP \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-account-issuer https://kubernetes.default.svc \
		--service-cluster-ip-range "$service_cidr" --authorization-mode RBAC,Node \
		--allow-privileged=false --profiling=false
	wait_for kube-apiserver 240 kubectl get --raw /readyz
	log "kube-controller-manager, kube-scheduler"
	start kube-controller-manager "$kbin/kube-controller-manager" --kubeconfig "$KUBECONFIG" \
		--bind-address 127.0.0.1 --secure-port 10257 \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--use-service-account-credentials=false --controllers '*,-nodeipam' \
		--cluster-cidr "$pod_cidr" --allocate-node-cidrs=false --leader-elect=false --profiling=false
	start kube-scheduler "$kbin/kube-scheduler" --kubeconfig "$KUBECONFIG" \
		--authentication-kubeconfig "$KUBECONFIG" --authorization-kubeconfig "$KUBECONFIG" \
		--bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false --profiling=false
	log "pause image, our images"
	pause_image
	import_images
	log "kubelet"
	start kubelet "$kbin/kubelet" --config "$NODE_STATE/kubelet.yaml" --kubeconfig "$KUBECONFIG" \
		--root-dir "$NODE_STATE/kubelet" --hostname-override "$node_name" --node-ip "$gateway"
	wait_for "node $node_name" 240 kubectl get node "$node_name"
	log "kube-proxy, CoreDNS"
	start kube-proxy "$kbin/kube-proxy" --config "$NODE_STATE/kube-proxy.yaml"
	start coredns "$coredns_bin" -conf "$NODE_STATE/Corefile" -dns.port 53
	wait_for "node Ready" 240 kubectl wait --for=condition=Ready "node/$node_name" --timeout=1s
	wait_for "default ServiceAccount" 120 kubectl get serviceaccount default
	log "up: KUBECONFIG=$KUBECONFIG"
	echo "$KUBECONFIG"
}

# stop NAME: SIGTERM, then SIGKILL after 10 s, the process with NAME's PID.
stop() {
	local f=$run/$1.pid pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -TERM "$pid" 2>/dev/null; then
		for ((i = 0; i < 40; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

down() {
	[ -d "$NODE_STATE" ] || return 0
	log "down"
	stop kubelet
	stop kube-proxy
	stop coredns
	stop kube-scheduler
	stop kube-controller-manager
	stop kube-apiserver
	stop etcd
	# Every container the kubelet left, then the shims with them.
	if [ -S "$containerd_sock" ]; then
		local c
		for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
		for c in $(ctr tasks ls -q 2>/dev/null); do
			try_for 40 sh -c "! command ctr --address '$containerd_sock' -n k8s.io tasks ls -q | grep -qx '$c'" || true
			ctr tasks delete -f "$c" >/dev/null 2>&1 || true
		done
		for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1 || true; done
	fi
	stop containerd
	# Shims whose containerd is gone: only ours, found by our socket path.
	local pid
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $containerd_sock" 2>/dev/null || true); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	# kube-proxy's iptables rules; the kubelet's chains (KUBE-FIREWALL etc.).
	if [ -x "$kbin/kube-proxy" ]; then "$kbin/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
	local table chain
	for table in filter nat mangle; do
		for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/{print $2}'); do
			iptables -t "$table" -S 2>/dev/null | awk -v c="$chain" '$1=="-A" && $0 ~ ("-j " c "( |$)") {sub("^-A","-D"); print}' |
				while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
		done
		for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/{print $2}'); do
			iptables -t "$table" -F "$chain" 2>/dev/null || true
		done
		for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/{print $2}'); do
			iptables -t "$table" -X "$chain" 2>/dev/null || true
		done
	done
	ip link delete "$bridge" 2>/dev/null || true
	if [ -f "$run/ip_forward.orig" ]; then cat "$run/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward; fi
	# Mounts under our state directory (pod volumes, sandboxes' shm, netns),
	# deepest first.
	local m
	for m in $(awk -v d="$NODE_STATE" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	# The pods' network namespaces: containerd names them cni-*; only those
	# that were not there before up.
	for m in $(ls /run/netns 2>/dev/null | grep '^cni-' || true); do
		grep -qx "$m" "$run/netns.before" 2>/dev/null && continue
		umount -l "/run/netns/$m" 2>/dev/null || true
		rm -f "/run/netns/$m"
	done
	rm -rf "$NODE_STATE"
	log "down: clean"
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
