# ngwaf-helloworld: build, test, demo.
#
# Go 1.26.8's standard library has known vulnerabilities in net/http,
# crypto/tls, net/textproto and crypto/x509; build and test with the newer
# toolchain the module proxy serves.
export GOTOOLCHAIN := go1.27.3

GO             ?= go
BIN            := $(CURDIR)/bin
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS        := -s -w -X main.version=$(VERSION)
STATICCHECK    := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK    := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# The vulnerability database, built offline from the golang.org/x/vulndb
# module's OSV files: govulncheck needs no network beyond the module proxy.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB         := $(BIN)/vulndb-$(VULNDB_VERSION)
FUZZTIME       ?= 20000x

.PHONY: all build setup test-images test-compose test-k8s test test-unit test-soak soak test-deploy test-bench test-examples test-browser bench loadtest fuzz lint vulncheck demo generate clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: everything CI runs (the README's test command). setup first: the
## one step that installs system packages.
test: setup test-unit test-soak test-deploy test-bench test-examples test-browser lint vulncheck fuzz test-images test-compose test-k8s

## setup: the Debian packages and podman settings the deployment tests use
##        (bubblewrap, podman, debootstrap, containerd, runc, CNI plugins,
##        iptables); idempotent, needs root. deploy/setup.sh.
setup:
	deploy/setup.sh

## test-images: both images from the Dockerfile with podman, on local
##              stand-ins for the base images; checks user, read-only root
##              and HEALTHCHECKs. deploy/images/build.sh.
test-images: setup
	deploy/images/build.sh

## test-compose: docker-compose.yml (and the TCP override) with docker
##               compose v2 against podman's Docker API. deploy/compose/run.sh.
test-compose: test-images
	deploy/compose/run.sh

## test-k8s: a real single-node Kubernetes (components built from the module
##           proxy, cached in /var/cache/ngwaf-helloworld) and the example's
##           overlays on it. deploy/k8s/run.sh.
test-k8s: test-images
	cd deploy && $(GO) vet -tags k8snode ./k8s/
	deploy/k8s/run.sh

# -count=1: e2e/, faults/ and bench/ build the binaries in a subprocess, so
# go test's cache can't see that their sources changed.
# module/ is a Go module of its own (the library: msgp and nothing else).
test-unit:
	$(GO) vet ./...
	cd module && $(GO) vet ./...
	cd module && $(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 ./...

## test-soak: the soak test, short (the fault suite itself runs in test-unit).
test-soak:
	SOAK_DURATION=15s $(GO) test -count=1 -run '^TestSoak$$' -v ./faults/

## soak: the soak test for SOAK_DURATION, e.g. make soak SOAK_DURATION=10m.
SOAK_DURATION ?= 3m
soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -run '^TestSoak$$' -v -timeout 30m ./faults/

## test-bench: bench/'s unit tests and one pass of every benchmark.
test-bench:
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./... && $(GO) test -run '^$$' -bench . -benchtime 1x ./...

test-deploy: setup
	cd deploy && $(GO) vet ./... && $(GO) test ./...

## test-examples: the gin, echo and chi servers (examples/, a nested module) against the fake agent.
test-examples:
	cd examples && $(GO) vet ./... && $(GO) test -race -count=1 ./...
## test-browser: the dashboard in headless Chromium (e2e/browser, a nested
##               module); screenshots go to bin/dashboard-*.png.
test-browser: setup
	cd e2e/browser && $(GO) vet ./... && $(GO) test -count=1 -v ./...
	cd e2e/browser && GOBIN=$(BIN) $(GO) install $(STATICCHECK) && $(BIN)/staticcheck ./...

## fuzz: every decoder's fuzz target for FUZZTIME, from its checked-in corpus.
fuzz:
	cd module && $(GO) test -run '^$$' -fuzz '^FuzzServerCodec$$' -fuzztime $(FUZZTIME) -parallel 1 ./wire
	cd module && $(GO) test -run '^$$' -fuzz '^FuzzClientCodec$$' -fuzztime $(FUZZTIME) -parallel 1 ./wire
	$(GO) test -run '^$$' -fuzz '^FuzzDecide$$' -fuzztime $(FUZZTIME) -parallel 1 ./fakeagent/detect
	$(GO) test -run '^$$' -fuzz '^FuzzWalkJSON$$' -fuzztime $(FUZZTIME) -parallel 1 ./fakeagent/detect
	$(GO) test -run '^$$' -fuzz '^FuzzParseRules$$' -fuzztime $(FUZZTIME) -parallel 1 ./fakeagent/detect
	$(GO) test -run '^$$' -fuzz '^FuzzTransforms$$' -fuzztime $(FUZZTIME) -parallel 1 ./fakeagent/detect
	$(GO) test -run '^$$' -fuzz '^FuzzShortcuts$$' -fuzztime $(FUZZTIME) -parallel 1 ./fakeagent/detect
	cd module && $(GO) test -run '^$$' -fuzz '^FuzzSigsciHeaders$$' -fuzztime $(FUZZTIME) -parallel 1 .

## demo: the app and the fake agent on a temporary Unix socket (no Docker).
demo: build
	$(BIN)/demo -bin $(BIN)

# Benchmarks and the load comparison (bench/, a nested module).
BENCHSTAT      := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH          ?= .
BENCH_COUNT    ?= 6
BENCH_TIME     ?= 1s
BENCH_OUT      := $(CURDIR)/bench/out
LOADTEST_FLAGS ?=

## bench: the go test benchmarks in bench/, BENCH_COUNT runs each, summarised by benchstat.
##        e.g. make bench BENCH=PreRequest/agent=proc BENCH_COUNT=10
bench:
	GOBIN=$(BIN) $(GO) install $(BENCHSTAT)
	mkdir -p $(BENCH_OUT)
	cd bench && $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCH_COUNT) -benchtime $(BENCH_TIME) -timeout 60m . > $(BENCH_OUT)/bench.txt; \
		status=$$?; cat $(BENCH_OUT)/bench.txt; exit $$status
	$(BIN)/benchstat $(BENCH_OUT)/bench.txt

## loadtest: the load comparison (real processes, loopback only, about 3 minutes);
##           writes bench/results/<YYYY-MM-DD>/. e.g. make loadtest LOADTEST_FLAGS='-rounds 5'
loadtest:
	cd bench && $(GO) run ./cmd/loadcompare $(LOADTEST_FLAGS)

generate:
	cd module && $(GO) generate ./...

lint:
	@unformatted=$$(gofmt -l . ); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)
	$(BIN)/staticcheck ./...
	cd module && $(GO) vet ./... && $(BIN)/staticcheck ./...
	cd deploy && $(BIN)/staticcheck ./...
	cd bench && $(BIN)/staticcheck ./...
	cd examples && $(BIN)/staticcheck ./...

vulncheck: $(VULNDB)/index/db.json
	GOBIN=$(BIN) $(GO) install $(GOVULNCHECK)
	$(BIN)/govulncheck -db file://$(VULNDB) ./...
	cd module && $(BIN)/govulncheck -db file://$(VULNDB) ./...
	cd bench && $(BIN)/govulncheck -db file://$(VULNDB) ./...
	cd examples && $(BIN)/govulncheck -db file://$(VULNDB) ./...
	cd e2e/browser && $(BIN)/govulncheck -db file://$(VULNDB) ./...

$(VULNDB)/index/db.json:
	dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" && rm -rf $(VULNDB).tmp && \
	(cd "$$dir" && GOFLAGS=-mod=mod $(GO) run ./cmd/indexdb -vulns data/osv -out $(VULNDB).tmp) && \
	rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)

clean:
	rm -rf $(BIN)
