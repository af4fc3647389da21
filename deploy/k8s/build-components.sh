#!/usr/bin/env bash
# Builds the Kubernetes node's components from the Go module proxy, pinned,
# into a cache outside the repository (CI runs on a clean clone of the same
# machine, so a warm cache survives between runs):
#   $K8S_CACHE/k8s-$K8S_VERSION/bin/{kube-apiserver,kube-controller-manager,
#     kube-scheduler,kubelet,kube-proxy,kubectl}
#   $K8S_CACHE/etcd-$ETCD_VERSION/bin/etcd
#   $K8S_CACHE/coredns-$COREDNS_VERSION/bin/coredns
# Each set is built in a scratch module and moved into place only when
# complete, so an interrupted build is redone, never half-used. Idempotent:
# a complete set is left alone. About 10 minutes cold on 2 cores.
set -euo pipefail

: "${K8S_VERSION:=v1.37.2}"
: "${ETCD_VERSION:=v3.7.3}"
: "${COREDNS_VERSION:=v1.12.4}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}" CGO_ENABLED=0 GOFLAGS=-mod=mod

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
# with directories of its own repository; replace directives of a dependency
# do not apply, so each is pinned here to its published v0.X.Y, the same
# release (kubernetes v1.37.2 = staging v0.37.2).
staging_version="v0.${K8S_VERSION#v1.}"

log() { printf '%s build-components: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# build_set NAME DEST MODULE@VERSION REPLACES PACKAGE[=BINARY]...
# (=BINARY names a binary that go build would name after its package's
# last element, such as .../server/v3.)
build_set() {
	local name=$1 dest=$2 req=$3 replaces=$4
	shift 4
	if [ -f "$dest/.complete" ]; then
		log "$name: cached in $dest"
		return
	fi
	log "$name: building $req (cold: several minutes)"
	local work
	work=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: work is local.
	trap "rm -rf '$work'" RETURN
	(
		cd "$work"
		printf 'module ngwaf-helloworld/build/%s\n\ngo 1.26.0\n\n%s\n' "$name" "$replaces" > go.mod
		go get "$req"
		local pkgs=() named=() p
		for p in "$@"; do
			go get "${p%%=*}@${req#*@}"
			if [[ $p == *=* ]]; then named+=("$p"); else pkgs+=("$p"); fi
		done
		mkdir -p out/bin
		if [ ${#pkgs[@]} -gt 0 ]; then
			nice -n 10 go build -trimpath -ldflags='-s -w' -o out/bin/ "${pkgs[@]}"
		fi
		for p in "${named[@]}"; do
			nice -n 10 go build -trimpath -ldflags='-s -w' -o "out/bin/${p#*=}" "${p%%=*}"
		done
		touch out/.complete
	)
	mkdir -p "$(dirname "$dest")"
	rm -rf "$dest.tmp" "$dest"
	mv "$work/out" "$dest.tmp"
	mv "$dest.tmp" "$dest"
	log "$name: done"
}

k8s_replaces() {
	local mods=(api apiextensions-apiserver apimachinery apiserver cli-runtime
		client-go cloud-provider cluster-bootstrap code-generator component-base
		component-helpers controller-manager cri-api cri-client cri-streaming
		csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
		kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler
		kubectl kubelet metrics mount-utils pod-security-admission
		sample-apiserver streaming)
	echo 'replace ('
	for m in "${mods[@]}"; do printf '\tk8s.io/%s => k8s.io/%s %s\n' "$m" "$m" "$staging_version"; done
	echo ')'
}

# etcd's server module replaces its sibling modules with ../ paths too.
etcd_replaces() {
	echo 'replace ('
	for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
		printf '\tgo.etcd.io/etcd/%s => go.etcd.io/etcd/%s %s\n' "$m" "$m" "$ETCD_VERSION"
	done
	echo ')'
}

build_set kubernetes "$K8S_CACHE/k8s-$K8S_VERSION" "k8s.io/kubernetes@$K8S_VERSION" "$(k8s_replaces)" \
	k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
	k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
build_set etcd "$K8S_CACHE/etcd-$ETCD_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$(etcd_replaces)" \
	go.etcd.io/etcd/server/v3=etcd
build_set coredns "$K8S_CACHE/coredns-$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION" "" \
	github.com/coredns/coredns
