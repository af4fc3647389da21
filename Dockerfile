# syntax=docker/dockerfile:1

# The helloworld app and the fake agent, one image each:
#   docker build --target helloworld -t ghcr.io/seed-a2a44e50/ngwaf-helloworld:dev .
#   docker build --target fakeagent  -t ghcr.io/seed-a2a44e50/ngwaf-fakeagent:dev .
# Add --build-arg VERSION=v1.2.3 to stamp a version into the binaries.
# Both are static Go binaries on distroless: no shell, no package manager,
# non-root. Health checks and probes use the binaries' own probe subcommands.
#
# Base images are pinned by tag. To pin by digest as well, append
# @sha256:... to a FROM (e.g. from `crane digest IMAGE`) and let Renovate or
# Dependabot keep it current.

# Build on the machine's own platform and cross-compile: no emulation.
FROM --platform=$BUILDPLATFORM golang:1.27.3-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
# Static binaries (no libc in the runtime image); the image's Go, nothing
# downloaded; the version comes from VERSION, not from VCS metadata.
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
WORKDIR /src
# The whole source before the download: the main module's go.mod replaces
# nested modules (./module) with their directories, which go mod download
# must find.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod go mod download
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" \
      -o /out/bin/ ./cmd/helloworld ./cmd/fakeagent
# The fake agent's writable directory, made here: the runtime image has no
# mkdir.
RUN mkdir -p /out/sigsci/tmp

FROM gcr.io/distroless/static-debian12:nonroot AS runtime

FROM runtime AS helloworld
COPY --from=build /out/bin/helloworld /usr/local/bin/helloworld
# Numeric, so that Kubernetes' runAsNonRoot can verify it (65532 = nonroot).
USER 65532:65532
EXPOSE 8000
# GET http://localhost:8000/healthz; exits 0 iff it answers 200.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["helloworld", "probe"]
ENTRYPOINT ["helloworld"]
# Every interface of the container: localhost would be unreachable from
# outside it. The agent address is the second argument (see compose).
CMD ["0.0.0.0:8000"]

FROM runtime AS fakeagent
# /sigsci/tmp owned by the non-root user: the socket, the shared cache and
# anything else the agent writes go there, and nowhere else, so the
# container runs with a read-only root filesystem. A named volume mounted
# here starts as a copy of this directory, ownership included.
COPY --from=build --chown=65532:65532 /out/sigsci /sigsci
COPY --from=build /out/bin/fakeagent /usr/local/bin/fakeagent
USER 65532:65532
VOLUME ["/sigsci/tmp"]
# Dials the agent's RPC address (SIGSCI_RPC_ADDRESS, default
# /sigsci/tmp/sigsci.sock) and calls ModuleInit; exits 0 iff it answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["fakeagent", "probe"]
ENTRYPOINT ["fakeagent"]
