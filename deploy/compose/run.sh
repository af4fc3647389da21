#!/usr/bin/env bash
# The docker compose demo, for real: the repository's docker-compose.yml
# (and then with docker-compose.tcp.yml) run by docker compose v2, as a
# plugin of the docker CLI, against podman's Docker-compatible API
# (podman system service) on a private socket. Checks what the README
# promises: the agent healthy before the app starts, the shared volume,
# read-only roots, 127.0.0.1:8000 published, 200/406//headers from the host,
# and `down -v` leaving nothing behind.
#
# podman 4.3 runs health checks from systemd timers and there is no systemd
# here, so this script runs `podman healthcheck run` itself, once a second,
# which is what a Docker engine does in the start period.
#
# Needs the images (deploy/images/build.sh) and root. Cleans up on any exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${COMPOSE_VERSION:=v2.40.3}"
: "${K8S_CACHE:=/var/cache/ngwaf-helloworld}"
project=ngwaf-helloworld

log() { printf '%s compose: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

timeout 30m "$here/build-compose.sh"

work=$(mktemp -d)
service_pid= health_pid=
compose_files=()
cleanup() {
	local rc=$?
	set +e
	if [ -n "$health_pid" ]; then
		kill "$health_pid" 2>/dev/null
		wait "$health_pid" 2>/dev/null
	fi
	if [ -n "$service_pid" ]; then
		if [ ${#compose_files[@]} -gt 0 ]; then
			dc down -v --timeout 20 >/dev/null 2>&1
		fi
		kill "$service_pid" 2>/dev/null
		wait "$service_pid" 2>/dev/null
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A docker CLI configuration of our own: compose as its plugin, nothing of
# the user's.
export DOCKER_CONFIG=$work/docker
mkdir -p "$DOCKER_CONFIG"
printf '{"cliPluginsExtraDirs": ["%s"]}\n' "$K8S_CACHE/compose-$COMPOSE_VERSION" >"$DOCKER_CONFIG/config.json"
export DOCKER_HOST=unix://$work/podman.sock
# The engine's own builder (podman: buildah) through the API's /build, as
# with a Docker engine without buildx; compose's BuildKit path would boot a
# moby/buildkit container pulled from Docker Hub.
export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false

log "podman system service on $DOCKER_HOST"
podman system service --time=0 "$DOCKER_HOST" >"$work/podman-service.log" 2>&1 &
service_pid=$!
for ((i = 0; i < 100; i++)); do
	docker version >/dev/null 2>&1 && break
	kill -0 "$service_pid" 2>/dev/null || { cat "$work/podman-service.log" >&2; fail "podman system service exited"; }
	sleep 0.1
done
docker version --format 'docker CLI {{.Client.Version}}, engine API {{.Server.APIVersion}} (podman {{.Server.Version}})' >&2
docker compose version >&2

dc() { docker compose --project-directory "$repo" "${compose_files[@]}" "$@"; }

# health_loop: the health checks a Docker engine would schedule.
health_loop() {
	while :; do
		for c in $(podman ps --filter "label=com.docker.compose.project=$project" --format '{{.Names}}'); do
			podman healthcheck run "$c" >/dev/null 2>&1 || true
		done
		sleep 1
	done
}

# http PATH: "STATUS BODY" of GET http://127.0.0.1:8000PATH.
http() { curl -s --max-time 5 -o "$work/body" -w '%{http_code}' -D "$work/headers" "http://127.0.0.1:8000$1"; }

run_demo() {
	local name=$1
	shift
	compose_files=()
	local f
	for f in "$@"; do compose_files+=(-f "$repo/$f"); done
	log "$name: docker compose ${compose_files[*]} up --build -d --wait"
	# The compose file publishes 127.0.0.1:8000: wait (up to 20 s) for
	# anything else on this machine that briefly uses it.
	local i
	for ((i = 0; i < 40; i++)); do
		ss -Hltn 'sport = :8000' | grep -q . || break
		sleep 0.5
	done
	if ss -Hltn 'sport = :8000' | grep -q .; then fail "127.0.0.1:8000 is taken: $(ss -Hltnp 'sport = :8000')"; fi
	health_loop &
	health_pid=$!
	local start
	start=$(date +%s.%N)
	timeout 600 docker compose --project-directory "$repo" "${compose_files[@]}" up --build -d --wait --wait-timeout 120 >"$work/up.log" 2>&1 ||
		{ cat "$work/up.log" >&2; dc logs >&2 || true; fail "$name: compose up"; }
	log "$name: up and healthy in $(echo "$(date +%s.%N) - $start" | bc) s"
	local agent=${project}-agent-1 app=${project}-app-1

	# The agent was healthy before the app started.
	local healthy_at app_started
	# The first passing check (not "| head -1": under pipefail, head
	# leaving early makes podman's write a SIGPIPE and the script exit 141).
	healthy_at=$(podman inspect --format '{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}}{{"\n"}}{{end}}{{end}}' "$agent")
	healthy_at=${healthy_at%%$'\n'*}
	app_started=$(podman inspect --format '{{.State.StartedAt}}' "$app")
	[ -n "$healthy_at" ] || fail "$name: the agent has no passing health check"
	python3 - "$healthy_at" "$app_started" <<-'PY' || fail "$name: the app started ($app_started) before the agent was healthy ($healthy_at)"
		import sys, re, datetime
		def parse(s):
		    s = re.sub(r' [A-Z]+$', '', s.strip())          # zone name
		    s = re.sub(r'(\.\d{6})\d*', r'\1', s)            # to microseconds
		    s = re.sub(r' ([+-]\d{2})(\d{2})$', r'\1:\2', s) # +0000 -> +00:00
		    return datetime.datetime.fromisoformat(s.replace(' ', 'T', 1))
		sys.exit(0 if parse(sys.argv[1]) < parse(sys.argv[2]) else 1)
	PY
	log "$name: agent healthy at $healthy_at, app started at $app_started"

	# Read-only roots, no capabilities, the shared volume.
	for c in "$agent" "$app"; do
		[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$c")" = true ] || fail "$c: root not read-only"
		[ "$(podman inspect --format '{{.Config.User}}' "$c")" = 65532:65532 ] || fail "$c: not UID 65532"
	done
	local agent_vol app_vol
	agent_vol=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/sigsci/tmp"}}{{.Name}}{{end}}{{end}}' "$agent")
	app_vol=$(podman inspect --format '{{range .Mounts}}{{if eq .Destination "/sigsci/tmp"}}{{.Name}}{{end}}{{end}}' "$app")
	[ "$agent_vol" = "${project}_sigsci-tmp" ] || fail "$name: the agent's /sigsci/tmp is '$agent_vol'"
	case $name in
	uds) [ "$app_vol" = "$agent_vol" ] || fail "uds: the app does not share the agent's volume ('$app_vol')" ;;
	tcp) [ -z "$app_vol" ] || fail "tcp: the app still mounts '$app_vol'" ;;
	esac
	local ports
	ports=$(podman port "$app")
	[ "$ports" = "8000/tcp -> 127.0.0.1:8000" ] || fail "$name: the app publishes '$ports'"

	# Traffic from the host. (On failure, the app's log says why: e.g. an
	# agent name that does not resolve, and the module failing open.)
	trap 'podman logs "$app" >&2 2>/dev/null || true' ERR
	local code
	code=$(http /) && [ "$code" = 200 ] || fail "$name: GET / = $code"
	code=$(http "/?q=1'%20OR%20'1'='1") && [ "$code" = 406 ] || fail "$name: the SQL injection got $code, want 406"
	code=$(http /headers) && [ "$code" = 200 ] || fail "$name: GET /headers = $code"
	grep -qiE 'X-Sigsci-Agentresponse"?: ?"?200' "$work/body" || { cat "$work/body" >&2; fail "$name: /headers shows no X-Sigsci-Agentresponse: 200"; }
	log "$name: 200, 406 and /headers from 127.0.0.1:8000"

	kill "$health_pid" 2>/dev/null
	wait "$health_pid" 2>/dev/null || true
	health_pid=
	start=$(date +%s.%N)
	dc down -v --timeout 20 >"$work/down.log" 2>&1 || { cat "$work/down.log" >&2; fail "$name: compose down -v"; }
	log "$name: down -v in $(echo "$(date +%s.%N) - $start" | bc) s"
	compose_files=()
	[ -z "$(podman ps -a --filter "label=com.docker.compose.project=$project" -q)" ] || fail "$name: containers left after down -v"
	! podman volume exists "${project}_sigsci-tmp" || fail "$name: volume left after down -v"
	[ -z "$(podman network ls -q --filter "name=^${project}_")" ] || fail "$name: network left after down -v"
	log "$name: nothing left"
}

run_demo uds docker-compose.yml
run_demo tcp docker-compose.yml docker-compose.tcp.yml
log "ok"
