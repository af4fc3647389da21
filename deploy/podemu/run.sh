#!/usr/bin/env bash
# Pod emulation: runs the fake agent and the helloworld app the way the
# Kubernetes pod does (deploy/kubernetes/overlays/fake-agent), without a
# cluster or a container engine, each in a bubblewrap sandbox:
#   - a read-only root filesystem (the host's, as the image stand-in),
#   - one private, writable directory at /sigsci/tmp, the SAME host
#     directory in both sandboxes (the pod's sigsci-tmp emptyDir), where the
#     agent puts its socket,
#   - a non-root UID (65532), no capabilities, their own PID namespaces (the
#     binary is PID 1, as in a container), and the host's network namespace,
#     so the app is reached on a random 127.0.0.1 port.
# Then it waits for readiness (the agent's /startup listener and
# `fakeagent probe`, the app's /healthz), sends a benign request (200) and a
# SQL injection (406), stops both with SIGTERM (app first: the agent's preStop
# keeps it up longer) and checks that both exit 0 and the agent removed its
# socket.
#
# Usage: deploy/podemu/run.sh
# Environment: PODEMU_APP_PORT, PODEMU_STARTUP_PORT (free 127.0.0.1 ports;
# picked at random when unset), GO (the go command, default go), PODEMU_BIN
# (a directory with already built helloworld and fakeagent: no build).
# Exit status: 0 passed; 1 failed; 3 the binaries did not build; 77 skipped:
# bubblewrap is missing (make setup installs it), or cannot sandbox here.
set -euo pipefail

readonly SKIP=77 BUILD_FAILED=3
readonly uid=65532 sock=/sigsci/tmp/sigsci.sock
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

say() { printf 'podemu: %s\n' "$*"; }
skip() { say "SKIP: $*"; exit "$SKIP"; }

# --- bubblewrap ---------------------------------------------------------------
# System packages come from the one set-up step (make setup), never from
# here.
if ! command -v bwrap >/dev/null; then
	skip "bubblewrap (bwrap) is not installed: run make setup (deploy/setup.sh) or install the bubblewrap package"
fi
if ! err=$(bwrap --ro-bind / / --unshare-user --unshare-pid --dev /dev --proc /proc true 2>&1); then
	skip "bwrap cannot create a sandbox here (user or PID namespaces unavailable?): $err"
fi

# --- scratch space ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/podemu.XXXXXX")
# The emptyDir stand-in: private (0700) and, where possible, on tmpfs.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	vol=$(mktemp -d /dev/shm/podemu-sigsci-tmp.XXXXXX)
else
	vol=$(mktemp -d "$work/sigsci-tmp.XXXXXX")
fi
agent_pid='' app_pid=''
cleanup() {
	local pid
	for pid in "$app_pid" "$agent_pid"; do
		# Only the sandboxes this script started, by their PIDs.
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$work" "$vol"
}
trap cleanup EXIT
logs() {
	local f
	for f in "$work"/agent.log "$work"/app.log; do
		[ -s "$f" ] && { printf -- '--- %s\n' "${f##*/}"; cat "$f"; }
	done
	return 0
}
fail() { say "FAIL: $*"; logs; exit 1; }

# --- build --------------------------------------------------------------------
bin=$work/bin
if [ -n "${PODEMU_BIN:-}" ]; then
	bin=$(cd "$PODEMU_BIN" && pwd)
	say "using the binaries in $bin"
else
	say "building cmd/helloworld and cmd/fakeagent (static, as in the Dockerfile)"
	if ! (cd "$repo" && CGO_ENABLED=0 "${GO:-go}" build -trimpath -o "$bin/" ./cmd/helloworld ./cmd/fakeagent) >"$work/build.log" 2>&1; then
		cat "$work/build.log"
		say "FAIL: the binaries did not build"
		exit "$BUILD_FAILED"
	fi
fi
for b in helloworld fakeagent; do
	[ -x "$bin/$b" ] || { say "FAIL: no executable $bin/$b"; exit "$BUILD_FAILED"; }
done

# --- ports --------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! port_in_use "$p"; then echo "$p"; return 0; fi
	done
	return 1
}
app_port=${PODEMU_APP_PORT:-$(pick_port)} || fail "no free port on 127.0.0.1"
startup_port=${PODEMU_STARTUP_PORT:-$(pick_port)} || fail "no free port on 127.0.0.1"
[ "$app_port" != "$startup_port" ] || fail "the app and the startup listener need two ports"

# --- sandboxes ----------------------------------------------------------------
# The read-only root: every top-level entry of the host's root, bound read
# only (symlinks recreated), on bwrap's own root, which --remount-ro then
# makes read-only too. A plain `--ro-bind / /` cannot host the /sigsci/tmp
# mount point: the host has no /sigsci, and bwrap could not create it on a
# read-only root.
root=()
for entry in /*; do
	case $entry in /proc | /dev | /sigsci) continue ;; esac
	if [ -L "$entry" ]; then
		root+=(--symlink "$(readlink "$entry")" "$entry")
	elif [ -d "$entry" ]; then
		root+=(--ro-bind "$entry" "$entry")
	fi
done

# sandbox INFO_FILE -- COMMAND...: runs COMMAND in a container-like sandbox
# and writes its host PID to INFO_FILE (bwrap --info-fd).
sandbox() {
	local info=$1
	shift
	bwrap "${root[@]}" \
		--dev /dev --proc /proc \
		--bind "$vol" /sigsci/tmp \
		--remount-ro / \
		--unshare-user --uid "$uid" --gid "$uid" --cap-drop ALL \
		--unshare-pid --as-pid-1 --unshare-ipc --unshare-uts --unshare-cgroup-try \
		--die-with-parent --new-session \
		--clearenv --setenv PATH /usr/local/bin:/usr/bin:/bin --setenv HOME /nonexistent \
		--info-fd 3 \
		"$@" 3>"$info"
}

# The fake-agent overlay's environment: dummy credentials, required as the
# real agent requires them, and the startup probe listener (on loopback
# here, since the sandbox shares the host's network).
agent_env=(
	--setenv SIGSCI_ACCESSKEYID 00000000-0000-0000-0000-000000000000
	--setenv SIGSCI_SECRETACCESSKEY fake-agent-needs-no-real-secret
	--setenv SIGSCI_REQUIRE_CREDENTIALS true
	--setenv SIGSCI_STARTUP_PROBE_LISTENER "127.0.0.1:$startup_port"
	# A double-only option: report the rules as loaded after 1 s, so that
	# the wait below meets the startup probe's 503 first, as after a real
	# agent's start. (Unknown to an agent without it: then ignored.)
	--setenv SIGSCI_FAKE_STARTUP_DELAY 1s
)

# child_pid INFO_FILE: the sandboxed process's host PID, once bwrap has
# reported it.
child_pid() {
	local i pid
	for i in $(seq 1 100); do
		pid=$(sed -n 's/.*"child-pid": *\([0-9][0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
		if [ -n "$pid" ]; then echo "$pid"; return 0; fi
		sleep 0.05
	done
	return 1
}

say "starting the agent (socket $sock) and the app (127.0.0.1:$app_port)"
sandbox "$work/agent.info" "${agent_env[@]}" -- "$bin/fakeagent" >"$work/agent.log" 2>&1 &
agent_pid=$!
sandbox "$work/app.info" -- "$bin/helloworld" "127.0.0.1:$app_port" "$sock" >"$work/app.log" 2>&1 &
app_pid=$!
agent_child=$(child_pid "$work/agent.info") || fail "the agent's sandbox did not start"
app_child=$(child_pid "$work/app.info") || fail "the app's sandbox did not start"

# --- readiness ----------------------------------------------------------------
# What the kubelet would poll: the agent's startup probe, then (our exec
# probe) an RPC ModuleInit over the socket from a third sandbox with the same
# mount, and the app's readiness probe. For at most 10 s, 0.1 s apart.
http_status() { curl -g -s -o /dev/null -w '%{http_code}' --max-time 2 -A podemu/1 "$1" || true; }
agent_probe() { sandbox /dev/null -- "$bin/fakeagent" probe >"$work/probe.log" 2>&1; }
ready='' polls=0 startup_503=0 deadline=$((SECONDS + 10))
while [ "$SECONDS" -lt "$deadline" ]; do
	polls=$((polls + 1))
	kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited before it was ready"
	kill -0 "$app_pid" 2>/dev/null || fail "the app exited before it was ready"
	startup=$(http_status "http://127.0.0.1:$startup_port/startup")
	[ "$startup" != 503 ] || startup_503=$((startup_503 + 1))
	if [ "$startup" = 200 ] &&
		agent_probe &&
		[ "$(http_status "http://127.0.0.1:$app_port/healthz")" = 200 ]; then
		ready=yes
		break
	fi
	sleep 0.1
done
[ -n "$ready" ] || { cat "$work/probe.log" 2>/dev/null || true; fail "not ready within 10 s"; }
say "ready after $polls polls (the startup probe answered 503 $startup_503 times first)"
[ -S "$vol/sigsci.sock" ] || fail "no socket at $sock on the shared volume"
"$bin/helloworld" probe "127.0.0.1:$app_port" || fail "helloworld probe 127.0.0.1:$app_port did not exit 0"

# --- requests -----------------------------------------------------------------
expect() {
	local want=$1 path=$2 got
	got=$(http_status "http://127.0.0.1:$app_port$path")
	[ "$got" = "$want" ] || fail "GET $path: got $got, want $want"
	say "GET $path -> $got"
}
expect 200 /
expect 406 "/?q=1'%20OR%20'1'='1"
# The benign request was inspected, not passed by failing open: the module
# hands the agent's answer to the app in X-Sigsci-Agentresponse.
headers=$(curl -s --max-time 2 -A podemu/1 "http://127.0.0.1:$app_port/headers" || true)
grep -qi 'x-sigsci-agentresponse' <<<"$headers" || fail "GET /headers shows no X-Sigsci-Agentresponse (did the app reach the agent?): $headers"
say "GET /headers -> $headers"

# --- shutdown -----------------------------------------------------------------
# stop NAME BWRAP_PID CHILD_PID: SIGTERM to the sandboxed process, then its
# exit status, within 15 s (the app's drain is at most 10 s).
stop() {
	local name=$1 pid=$2 child=$3 i rc=0
	kill -TERM "$child" 2>/dev/null || fail "$name: already gone before SIGTERM"
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$name: still running 15 s after SIGTERM"
	fi
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "$name: exit status $rc after SIGTERM, want 0"
	say "$name: exited 0 after SIGTERM"
}
stop app "$app_pid" "$app_child"
app_pid=''
stop agent "$agent_pid" "$agent_child"
agent_pid=''
[ ! -e "$vol/sigsci.sock" ] || fail "the agent left its socket behind"
say "the agent removed its socket"
say "PASS"
