#!/usr/bin/env bash
# Builds the two images from the repository's Dockerfile, unchanged, with
# podman (buildah), on a machine that can reach no container registry:
#   ghcr.io/seed-a2a44e50/ngwaf-helloworld:dev
#   ghcr.io/seed-a2a44e50/ngwaf-fakeagent:dev
# The base images the Dockerfile names are provided as LOCAL STAND-INS,
# built here and never pushed:
#   golang:1.27.3-bookworm  Debian bookworm (debootstrap --variant=minbase,
#                           Debian's mirror) plus the Go 1.27.3 toolchain
#                           from the Go module proxy
#                           (golang.org/toolchain@v0.0.1-go1.27.3.linux-amd64)
#   gcr.io/distroless/static-debian12:nonroot
#                           what distroless/static holds: CA certificates,
#                           tzdata, /etc/passwd with nonroot (65532), /tmp;
#                           no shell, USER 65532
# Each stand-in carries the label org.ngwaf-helloworld.stand-in=true. A real
# base image already present locally (pulled elsewhere) is used as is.
# Then the images are checked: they run as 65532:65532, their root is
# read-only, and their HEALTHCHECKs pass (run by hand: podman 4.3 runs
# health checks from systemd timers, and there is no systemd here).
#
# Idempotent: stand-ins are built once and kept in podman's storage.
set -euo pipefail

cd "$(dirname "$0")/../.."
: "${GO_VERSION:=1.27.3}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
: "${VERSION:=dev}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-go$GO_VERSION}"

golang_ref=docker.io/library/golang:$GO_VERSION-bookworm
distroless_ref=gcr.io/distroless/static-debian12:nonroot
app_ref=ghcr.io/seed-a2a44e50/ngwaf-helloworld:$VERSION
agent_ref=ghcr.io/seed-a2a44e50/ngwaf-fakeagent:$VERSION
stand_in_label=org.ngwaf-helloworld.stand-in

log() { printf '%s images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

work=$(mktemp -d)
cleanup() {
	podman rm -f -v ngwaf-images-check >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# A Debian bookworm root file system, cached: debootstrap takes minutes.
rootfs_tar=$K8S_CACHE/bookworm-minbase.tar
debian_rootfs() {
	if [ -f "$rootfs_tar" ]; then return; fi
	log "debootstrap bookworm (minbase) from deb.debian.org"
	local dir=$work/rootfs
	nice -n 10 debootstrap --variant=minbase --include=ca-certificates,tzdata,git \
		bookworm "$dir" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
	mkdir -p "$K8S_CACHE"
	tar -C "$dir" --numeric-owner -cf "$rootfs_tar.tmp" .
	mv "$rootfs_tar.tmp" "$rootfs_tar"
	rm -rf "$dir"
}

have_image() { podman image exists "$1"; }

# The build stage downloads modules from the proxy, through whatever TLS
# interception this machine's network does: the golang stand-in trusts the
# host's CA bundle, and is rebuilt when that bundle changes.
host_ca=/etc/ssl/certs/ca-certificates.crt
host_ca_sum=$(sha256sum "$host_ca" | cut -c1-16)

golang_stand_in() {
	if have_image "$golang_ref"; then
		local sum
		sum=$(podman image inspect --format '{{index .Labels "org.ngwaf-helloworld.host-ca"}}' "$golang_ref")
		if [ "$sum" = "$host_ca_sum" ] || [ -z "$(podman image inspect --format "{{index .Labels \"$stand_in_label\"}}" "$golang_ref")" ]; then
			log "$golang_ref: present"
			return
		fi
		log "$golang_ref: the host's CA bundle changed, rebuilding the stand-in"
	fi
	debian_rootfs
	local toolchain
	toolchain=$(go mod download -json "golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64" |
		sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$toolchain/bin" ] || fail "no Go $GO_VERSION toolchain from the module proxy"
	local ctx=$work/golang
	mkdir -p "$ctx/rootfs/usr/local"
	tar -C "$ctx/rootfs" -xf "$rootfs_tar"
	cp "$host_ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
	cp -a "$toolchain" "$ctx/rootfs/usr/local/go"
	chmod -R u+w "$ctx/rootfs/usr/local/go"
	mkdir -p "$ctx/rootfs/go/bin" "$ctx/rootfs/go/pkg"
	cat >"$ctx/Containerfile" <<-CF
		FROM scratch
		COPY rootfs/ /
		ENV GOLANG_VERSION=$GO_VERSION GOPATH=/go GOTOOLCHAIN=local \
		    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		WORKDIR /go
		LABEL $stand_in_label=true org.ngwaf-helloworld.host-ca=$host_ca_sum \
		      org.opencontainers.image.description="LOCAL STAND-IN for golang:$GO_VERSION-bookworm (debootstrap + Go from the module proxy); never push"
		CMD ["bash"]
	CF
	log "$golang_ref: building the stand-in"
	podman build -q --pull=never -t "$golang_ref" "$ctx" >/dev/null
}

distroless_stand_in() {
	if have_image "$distroless_ref"; then log "$distroless_ref: present"; return; fi
	debian_rootfs
	local ctx=$work/distroless src=$work/distroless-src
	mkdir -p "$src" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/rootfs/tmp" "$ctx/rootfs/home/nonroot"
	tar -C "$src" -xf "$rootfs_tar" ./etc/ssl/certs/ca-certificates.crt ./usr/share/zoneinfo
	cp "$src/etc/ssl/certs/ca-certificates.crt" "$ctx/rootfs/etc/ssl/certs/"
	cp -a "$src/usr/share/zoneinfo" "$ctx/rootfs/usr/share/"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
	printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
	chmod 1777 "$ctx/rootfs/tmp"
	chown 65532:65532 "$ctx/rootfs/home/nonroot"
	cat >"$ctx/Containerfile" <<-CF
		FROM scratch
		COPY rootfs/ /
		ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
		USER 65532
		WORKDIR /home/nonroot
		LABEL $stand_in_label=true \
		      org.opencontainers.image.description="LOCAL STAND-IN for gcr.io/distroless/static-debian12:nonroot (files from Debian bookworm); never push"
	CF
	log "$distroless_ref: building the stand-in"
	podman build -q --pull=never -t "$distroless_ref" "$ctx" >/dev/null
}

golang_stand_in
distroless_stand_in

# The Dockerfile as it is. --pull=never: the base images must be the local
# ones; --network=host: the build stage downloads Go modules from the proxy;
# --format docker: the OCI image format has no HEALTHCHECK, buildah drops it.
for target in helloworld fakeagent; do
	ref=$app_ref
	[ "$target" = fakeagent ] && ref=$agent_ref
	log "$ref: podman build --target $target"
	start=$(date +%s)
	nice -n 10 podman build -q --format docker --pull=never --network=host --build-arg "VERSION=$VERSION" \
		--target "$target" -t "$ref" -f Dockerfile . >/dev/null
	size=$(podman image inspect --format '{{.Size}}' "$ref")
	log "$ref: built in $(($(date +%s) - start)) s, $((size / 1000)) kB"
done

# check_image REF ARGS...: runs REF read-only as its own user and waits
# for its HEALTHCHECK to pass.
check_image() {
	local ref=$1
	shift
	local user
	user=$(podman image inspect --format '{{.Config.User}}' "$ref")
	[ "$user" = 65532:65532 ] || fail "$ref runs as '$user', want 65532:65532"
	podman image inspect --format '{{json .Config.Healthcheck}}' "$ref" | grep -q '"Test":\["CMD",' ||
		fail "$ref: no exec-form HEALTHCHECK"
	podman rm -f -v ngwaf-images-check >/dev/null 2>&1 || true
	# podman 4.3 complains on stderr that it cannot reach systemd to
	# schedule the health checks: this script runs them itself.
	podman run -d --name ngwaf-images-check --read-only --network=none --cap-drop=ALL \
		--security-opt no-new-privileges "$ref" "$@" >/dev/null 2>"$work/run.log" ||
		{ cat "$work/run.log" >&2; fail "$ref: podman run"; }
	# The process's UID as the kernel sees it.
	local pid uid
	pid=$(podman inspect --format '{{.State.Pid}}' ngwaf-images-check)
	uid=$(awk '/^Uid:/{print $2}' "/proc/$pid/status")
	[ "$uid" = 65532 ] || fail "$ref: the process runs as UID $uid"
	# Health: up to 50 runs of the check, 0.2 s apart (within the
	# HEALTHCHECK's 10 s start period).
	local i status=
	for i in $(seq 1 50); do
		if podman healthcheck run ngwaf-images-check >/dev/null 2>&1; then status=healthy; break; fi
		sleep 0.2
	done
	[ "$status" = healthy ] || { podman logs ngwaf-images-check >&2; fail "$ref: HEALTHCHECK never passed"; }
	# Read-only root: writing anywhere but the volume fails.
	local rootfs
	rootfs=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' ngwaf-images-check)
	[ "$rootfs" = true ] || fail "$ref: root is not read-only"
	podman rm -f -v ngwaf-images-check >/dev/null 2>&1
	log "$ref: runs as 65532, read-only root, HEALTHCHECK passes"
}
check_image "$agent_ref"
# No agent: the app serves uninspected (fails open), and /healthz answers.
check_image "$app_ref" 0.0.0.0:8000 /nonexistent/sigsci.sock
# The build stages these builds left behind (they carry the golang
# stand-in's label); nothing else.
podman image prune -f --filter "label=$stand_in_label=true" >/dev/null
log "done"
