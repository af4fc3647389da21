# ngwaf-helloworld: build, test, demo.
#
# Go 1.26.8's standard library has known vulnerabilities in net/http,
# crypto/tls, net/textproto and crypto/x509; build and test with the newer
# toolchain the module proxy serves.
export GOTOOLCHAIN := go1.27.3

GO          ?= go
BIN         := $(CURDIR)/bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.7.0

.PHONY: all build test test-unit test-deploy demo generate lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: everything CI runs.
test: test-unit test-deploy

test-deploy:
	cd deploy && $(GO) vet ./... && $(GO) test ./...

test-unit:
	$(GO) vet ./...
	$(GO) test -race ./...

## demo: the app and the fake agent on a temporary Unix socket (no Docker).
demo: build
	$(BIN)/demo -bin $(BIN)

generate:
	$(GO) generate ./...

lint:
	$(GO) vet ./...
	GOBIN=$(BIN) $(GO) install $(STATICCHECK)
	$(BIN)/staticcheck ./...

clean:
	rm -rf $(BIN)
