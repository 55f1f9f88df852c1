# Zero-code Lab: build, run and test the shop natively. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
# Each module is built and tested with its own go.mod, exactly as its image is built; go.work is for editors.
export GOWORK := off
SERVICES := gateway catalog inventory orders
BIN := $(CURDIR)/bin
TOOLS := $(CURDIR)/build/tools
# benchstat compares the two benchmark runs of `make bench`; pinned like every other tool.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
# The Collector's version is written once, in its builder manifest (and so in the compose image tag).
COLLECTOR_VERSION := $(shell awk '$$1 == "version:" {print $$2; exit}' collector/builder-config.yaml)
OTELCOL := $(CURDIR)/build/otelcol/otelcol-zerocode
# Static and not stripped: the eBPF agents read the binaries' symbols.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath

.PHONY: help build build-sdk collector agent loki doctor test e2e lint fmt run bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the four plain binaries into bin/
	cd services && for s in $(SERVICES); do $(GOBUILD) -o $(BIN)/$$s ./cmd/$$s; done

build-sdk: ## build the OpenTelemetry SDK twins (-tags otelsdk) into bin/otelsdk/
	cd services && for s in $(SERVICES); do $(GOBUILD) -tags otelsdk -o $(BIN)/otelsdk/$$s ./cmd/$$s; done

collector: $(OTELCOL) ## build the Collector natively from collector/builder-config.yaml

$(OTELCOL): collector/builder-config.yaml
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@v$(COLLECTOR_VERSION)
	@# The builder writes the sources and go.mod, resolves them and checks that every component module is
	@# at the manifest's version. Its last step, "go mod download" of every module in the graph, fetches
	@# test-only modules too, one of which the module proxy refuses: that one failure is tolerated, and
	@# "go build" then downloads exactly what the binary needs, verified against go.sum.
	@# GOSUMDB=off: the checksum database cannot be reached for some of these modules through this
	@# proxy; the go.sum the builder writes is what the build is verified against.
	@mkdir -p build
	GOSUMDB=off $(TOOLS)/builder --config collector/builder-config.yaml --skip-compilation > build/builder.log 2>&1 \
	  || grep -q 'failed to download go modules' build/builder.log \
	  || { cat build/builder.log; exit 1; }
	cd build/otelcol && GOSUMDB=off GOWORK=off CGO_ENABLED=0 $(GO) build -trimpath -o $(OTELCOL) .

test: lint collector ## every test that needs neither root nor Docker: the shop in both builds, then the showcase's configuration
	cd services && $(GO) test -race -count=1 ./...
	cd services && $(GO) test -tags otelsdk -count=1 ./...
	cd e2e && $(GO) test -count=1 ./...
	@# A short fuzzing run on top of the seed corpus that `go test` already replays.
	cd services && $(GO) test -run '^$$' -fuzz FuzzDecodeCheckout -fuzztime 15s ./internal/gateway

agent: ## build the OpenTelemetry Go auto agent from its pinned module source (clang, llvm, libbpf-dev, jq)
	bash otel-auto/build.sh

loki: ## build Loki natively at the compose image's version (jq)
	bash observability/loki/build.sh

e2e: collector agent loki ## the native end-to-end run on this kernel: real agents, Collector, Prometheus, Loki (root, Linux)
	@[ "$$(uname -s)" = Linux ] || { echo "make e2e runs eBPF agents on a Linux kernel; this is $$(uname -s)"; exit 1; }
	@[ "$$(id -u)" = 0 ] || { echo "make e2e loads eBPF programs into the kernel and needs root: sudo make e2e"; exit 1; }
	@command -v prometheus >/dev/null || { echo "make e2e needs Debian's prometheus: apt-get install prometheus"; exit 1; }
	cd e2e && $(GO) test -tags e2e -run '^TestEndToEnd$$' -count=1 -v -timeout 30m .

doctor: ## what this kernel lets each eBPF agent do (run as root for the agents' view)
	cd e2e && $(GO) run ./cmd/doctor

lint: ## gofmt and go vet, in both builds
	@unformatted=$$(gofmt -l services e2e); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd services && $(GO) vet ./... && $(GO) vet -tags otelsdk ./...
	cd e2e && $(GO) vet ./...

fmt: ## format the Go code
	gofmt -w services e2e

run: build ## run the shop natively on 127.0.0.1:8080-8083 (Ctrl-C stops it)
	@mkdir -p data
	@trap 'kill $$(jobs -p) 2>/dev/null || true; wait' EXIT; \
	export DATA_DIR=data LANE=plain; \
	ADDR=127.0.0.1:8081 $(BIN)/catalog & \
	ADDR=127.0.0.1:8082 $(BIN)/inventory & \
	ADDR=127.0.0.1:8083 $(BIN)/orders & \
	ADDR=127.0.0.1:8080 CATALOG_URL=http://127.0.0.1:8081 INVENTORY_URL=http://127.0.0.1:8082 ORDERS_URL=http://127.0.0.1:8083 $(BIN)/gateway & \
	echo "the shop runs on http://127.0.0.1:8080 (Ctrl-C stops it)" >&2; \
	wait

bench: ## the checkout benchmark, plain build against the SDK build, compared by benchstat
	@mkdir -p build
	GOBIN=$(TOOLS) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	cd services && $(GO) test -run '^$$' -bench Checkout -count 8 ./internal/shoptest | tee $(CURDIR)/build/bench-plain.txt
	cd services && $(GO) test -tags otelsdk -run '^$$' -bench Checkout -count 8 ./internal/shoptest | tee $(CURDIR)/build/bench-otelsdk.txt
	cd build && $(TOOLS)/benchstat -col .file bench-plain.txt bench-otelsdk.txt

fuzz: ## fuzz the checkout decoding for 2 minutes
	cd services && $(GO) test -run '^$$' -fuzz FuzzDecodeCheckout -fuzztime 2m ./internal/gateway

clean: ## remove what the build made
	rm -rf bin build data
