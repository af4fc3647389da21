#!/usr/bin/env bash
# The one explicit system set-up step of the tests (make setup, run first
# by make test): installs, with apt-get, the Debian packages that the pod
# emulation, the image builds, the compose demo, the Kubernetes node and the
# dashboard's browser test use, and writes podman's settings for this
# machine. Idempotent: a
# second run changes nothing and does not touch the network. Needs root (or
# sudo) on Debian 12; elsewhere it says what is missing and fails.
set -euo pipefail

packages=(
	bubblewrap                  # deploy/podemu: the pod emulation
	podman uidmap slirp4netns   # deploy/images, deploy/compose
	golang-github-containernetworking-plugin-dnsname # service names on compose networks
	fuse-overlayfs catatonit
	debootstrap                 # the local stand-ins for the base images
	containerd runc             # deploy/k8s: the node's container runtime
	containernetworking-plugins # its CNI plugins, in /usr/lib/cni
	iptables conntrack          # kube-proxy (iptables mode)
	ca-certificates curl
	chromium                    # e2e/browser: the dashboard in headless Chromium
)

log() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)

if [ ${#missing[@]} -gt 0 ]; then
	if ! command -v apt-get >/dev/null; then
		log "missing packages ${missing[*]} and no apt-get: install them by hand"
		exit 1
	fi
	log "installing ${missing[*]}"
	"${sudo[@]}" apt-get update -q
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	log "all packages present"
fi

# podman's default ulimits (nofile 1048576) exceed what this VM allows a
# container: lower them for every podman here, including the API service
# that docker compose talks to. And runc, not crun: crun refuses this host's
# hybrid cgroup layout.
conf=/etc/containers/containers.conf.d/50-ngwaf-helloworld.conf
want='# Written by ngwaf-helloworld deploy/setup.sh: the VM refuses higher limits.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
	log "writing $conf"
	"${sudo[@]}" mkdir -p "$(dirname "$conf")"
	printf '%s\n' "$want" | "${sudo[@]}" tee "$conf" >/dev/null
fi
