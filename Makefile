# Zero-code Lab: build, run and test the shop natively. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
# Each module is built and tested with its own go.mod, exactly as its image is built; go.work is for editors.
export GOWORK := off
SERVICES := gateway catalog inventory orders
BIN := $(CURDIR)/bin
TOOLS := $(CURDIR)/build/tools
# Every pinned upstream version (COLLECTOR_VERSION, TELEMETRYGEN_VERSION, BENCHSTAT_VERSION, ...), from
# the one file that holds them, which docker compose reads too.
include .env
OTELCOL := $(CURDIR)/build/otelcol/otelcol-zerocode
STANDIN := $(CURDIR)/build/tempo-standin/otelcol-tempo-standin
# Static and not stripped: the eBPF agents read the binaries' symbols.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath

.PHONY: help build build-sdk collector tempo-standin agent loki prometheus images doctor test e2e e2e-compose compare compare-fixtures lane-on lane-off lint fmt run bench bench-lanes bench-smoke fuzz clean shop-images k8s-build k8s-up k8s-down k8s-e2e

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build the four plain binaries into bin/
	cd services && for s in $(SERVICES); do $(GOBUILD) -o $(BIN)/$$s ./cmd/$$s; done

build-sdk: ## build the OpenTelemetry SDK twins (-tags otelsdk) into bin/otelsdk/
	cd services && for s in $(SERVICES); do $(GOBUILD) -tags otelsdk -o $(BIN)/otelsdk/$$s ./cmd/$$s; done

collector: $(OTELCOL) ## build the Collector natively from collector/builder-config.yaml

# $(call otelcol,MANIFEST,BINARY): the OpenTelemetry Collector Builder writes the sources and go.mod of
# MANIFEST, resolves them and checks that every component module is at the manifest's version. Its last
# step, "go mod download" of every module in the graph, fetches test-only modules too, one of which the
# module proxy refuses: that one failure is tolerated, and "go build" then downloads exactly what the
# binary needs, verified against go.sum. GOSUMDB=off: the checksum database cannot be reached for some
# of these modules through this proxy; the go.sum the builder writes is what the build is verified against.
define otelcol
	GOBIN=$(TOOLS) $(GO) install go.opentelemetry.io/collector/cmd/builder@v$(COLLECTOR_VERSION)
	@mkdir -p build
	GOSUMDB=off $(TOOLS)/builder --config $(1) --skip-compilation > build/builder.log 2>&1 \
	  || grep -q 'failed to download go modules' build/builder.log \
	  || { cat build/builder.log; exit 1; }
	cd $(dir $(2)) && GOSUMDB=off GOWORK=off CGO_ENABLED=0 $(GO) build -trimpath -o $(2) .
endef

$(OTELCOL): collector/builder-config.yaml
	$(call otelcol,collector/builder-config.yaml,$(OTELCOL))

tempo-standin: $(STANDIN) ## the compose run's Tempo stand-in: a Collector writing what it receives to a file

$(STANDIN): e2e/stack/tempo-standin/builder-config.yaml
	$(call otelcol,e2e/stack/tempo-standin/builder-config.yaml,$(STANDIN))

test: lint collector tempo-standin ## every test that needs neither root nor Docker: the shop in both builds, then the showcase's configuration
	cd services && $(GO) test -race -count=1 ./...
	cd services && $(GO) test -tags otelsdk -count=1 ./...
	cd e2e && $(GO) test -count=1 ./...
	@# A short fuzzing run on top of the seed corpus that `go test` already replays.
	cd services && $(GO) test -run '^$$' -fuzz FuzzDecodeCheckout -fuzztime 15s ./internal/gateway

agent: ## build the OpenTelemetry Go auto agent from its pinned module source (clang, llvm, libbpf-dev, jq)
	bash otel-auto/build.sh

loki: ## build Loki natively at the compose image's version (jq)
	bash observability/loki/build.sh

prometheus: ## build Prometheus natively at the compose image's version (jq)
	bash observability/prometheus/build.sh

e2e: collector agent loki prometheus ## the native end-to-end run on this kernel: real agents, Collector, Prometheus, Loki (root, Linux)
	@[ "$$(uname -s)" = Linux ] || { echo "make e2e runs eBPF agents on a Linux kernel; this is $$(uname -s)"; exit 1; }
	@[ "$$(id -u)" = 0 ] || { echo "make e2e loads eBPF programs into the kernel and needs root: sudo make e2e"; exit 1; }
	cd e2e && $(GO) test -tags e2e -run '^TestEndToEnd$$' -count=1 -v -timeout 30m .

compare-fixtures: ## make e2e, keeping each comparison's spans as the compare package's test fixtures (root, Linux)
	$(MAKE) e2e COMPARE_RECORD=e2e/compare/testdata

compare: ## one checkout of each scenario in every lane of the running stack, compared (COMPARE_FLAGS: see -h)
	cd e2e && $(GO) build -o $(CURDIR)/build/compare ./cmd/compare
	build/compare $(COMPARE_FLAGS)

doctor: ## what this kernel lets each eBPF agent do (built as you, run as root: it asks sudo when needed)
	cd e2e && $(GO) build -o $(CURDIR)/build/doctor ./cmd/doctor
	@# Built first and run as a file: "sudo make doctor" would usually lose Go from PATH.
	@if [ "$$(id -u)" = 0 ]; then build/doctor; else echo "sudo build/doctor (the agents run as root: so must the doctor)"; sudo build/doctor; fi

images: collector tempo-standin agent loki prometheus ## build locally what compose cannot pull here, under the compose file's name:tag (Docker)
	bash e2e/stack/images/build.sh

e2e-compose: images ## the real compose file on the real Docker engine: lanes, faults, the two-tier sampling form, and the lab against Tempo's own image where the engine has it; reports (root, Linux, Docker)
	@[ "$$(id -u)" = 0 ] || { echo "make e2e-compose runs privileged agents and mounts kernel filesystems: sudo make e2e-compose"; exit 1; }
	bash e2e/stack/compose-tools.sh
	cd e2e && DOCKER_CONFIG=$(CURDIR)/build/docker $(GO) test -tags compose -run '^TestCompose(Stack|TwoTierSampling|RealTempo)$$' -count=1 -v -timeout 80m ./stack

k8s-build: ## build the local Kubernetes cluster's programs at .env's versions into build/k8s/bin (gcc, jq)
	bash e2e/cluster/build.sh
	cd e2e && $(GO) build -o $(CURDIR)/build/k8s/lab-k8s ./cmd/k8s

# The shop's, the lab's and the load generator's images, built as compose builds them (BuildKit, through
# the compose tools of build/docker), for the cluster's containerd.
shop-images: images ## the shop's, the lab's and the load generator's images, as docker compose builds them (Docker)
	bash e2e/stack/compose-tools.sh
	DOCKER_CONFIG=$(CURDIR)/build/docker COMPOSE_PROFILES=plain,beyla,otel-auto,manual docker compose build plain-catalog manual-catalog
	DOCKER_CONFIG=$(CURDIR)/build/docker COMPOSE_PROFILES=plain,beyla,otel-auto,manual docker compose build

k8s-up: k8s-build shop-images ## a real single-node Kubernetes cluster on this host, running k8s/ (root, Linux, Docker for the images)
	@[ "$$(id -u)" = 0 ] || { echo "make k8s-up runs kubelet, containerd and kube-proxy: sudo make k8s-up"; exit 1; }
	build/k8s/lab-k8s up
	build/k8s/lab-k8s deploy
	@echo "export KUBECONFIG=$(CURDIR)/build/k8s/kubeconfig; kubectl is build/k8s/bin/kubectl. make k8s-down removes it all."

k8s-e2e: k8s-build shop-images ## the cluster of make k8s-up and k8s/ on it, checked end to end, then removed (root, Linux, Docker)
	@[ "$$(id -u)" = 0 ] || { echo "make k8s-e2e runs kubelet, containerd and kube-proxy: sudo make k8s-e2e"; exit 1; }
	cd e2e && $(GO) test -tags k8s -run '^TestK8s$$' -count=1 -v -timeout 30m ./cluster

k8s-down: ## stop the cluster of make k8s-up and remove all it left on this host (root)
	@[ "$$(id -u)" = 0 ] || { echo "make k8s-down stops root daemons: sudo make k8s-down"; exit 1; }
	cd e2e && $(GO) build -o $(CURDIR)/build/k8s/lab-k8s ./cmd/k8s
	build/k8s/lab-k8s down

# A lane on or off, touching only that lane's containers: "docker compose --profile X stop" would stop
# the whole stack too, since services without a profile belong to every profile.
LANE_SERVICES = docker compose --profile $(LANE) config --services | grep -E '^$(LANE)(-|$$)'
lane-off: ## stop one lane and its agents, nothing else: make lane-off LANE=otel-auto
	@[ -n "$(LANE)" ] || { echo "which lane? make lane-off LANE=plain|beyla|otel-auto|manual"; exit 1; }
	docker compose --profile $(LANE) stop $$($(LANE_SERVICES))

lane-on: ## start one lane and its agents (and the stack if it is down): make lane-on LANE=otel-auto
	@[ -n "$(LANE)" ] || { echo "which lane? make lane-on LANE=plain|beyla|otel-auto|manual"; exit 1; }
	docker compose --profile $(LANE) up -d $$($(LANE_SERVICES))

lint: ## gofmt and go vet, in both builds
	@unformatted=$$(gofmt -l services e2e); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	cd services && $(GO) vet ./... && $(GO) vet -tags otelsdk ./...
	cd e2e && $(GO) vet ./... && $(GO) vet -tags e2e ./... && $(GO) vet -tags compose ./... && $(GO) vet -tags k8s ./...

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

bench: collector agent ## what each lane costs: the SDK in-process, the Collector, then every lane on this kernel (root, Linux)
	@[ "$$(id -u)" = 0 ] || { echo "make bench attaches eBPF agents to the shop and needs root: sudo make bench"; exit 1; }
	@mkdir -p build
	GOBIN=$(TOOLS) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	cd services && $(GO) test -run '^$$' -bench Checkout -count 8 ./internal/shoptest | tee $(CURDIR)/build/bench-plain.txt
	cd services && $(GO) test -tags otelsdk -run '^$$' -bench Checkout -count 8 ./internal/shoptest | tee $(CURDIR)/build/bench-otelsdk.txt
	cd build && $(TOOLS)/benchstat -col .file bench-plain.txt bench-otelsdk.txt
	@# The real Collector with collector/config.yaml at saturation: spans/s, its CPU per 1,000 spans, losses.
	cd e2e && $(GO) test -run '^$$' -bench Collector -benchtime 400x -count 6 ./pipeline | tee $(CURDIR)/build/bench-collector.txt
	cd build && $(TOOLS)/benchstat bench-collector.txt
	$(MAKE) bench-lanes

# The lanes side by side (e2e/cmd/bench): BENCH_FLAGS as -h lists them.
BENCH = cd e2e && $(GO) build -o $(CURDIR)/build/bench ./cmd/bench && $(CURDIR)/build/bench -root $(CURDIR)
TELEMETRYGEN = GOBIN=$(TOOLS) $(GO) install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$(TELEMETRYGEN_VERSION)
bench-lanes: collector agent ## every lane on this kernel: throughput, latency, CPU, RSS, attach time, as ratios to plain (root, Linux)
	@[ "$$(id -u)" = 0 ] || { echo "make bench-lanes attaches eBPF agents to the shop and needs root: sudo make bench-lanes"; exit 1; }
	$(TELEMETRYGEN)
	$(BENCH) -out $(CURDIR)/build/bench-lanes.md $(BENCH_FLAGS)

bench-smoke: collector agent ## one short round of bench-lanes, so that the harness keeps working (root, Linux; CI)
	@[ "$$(id -u)" = 0 ] || { echo "make bench-smoke attaches eBPF agents to the shop and needs root: sudo make bench-smoke"; exit 1; }
	$(TELEMETRYGEN)
	$(BENCH) -out $(CURDIR)/build/bench-smoke.md -rounds 1 -duration 1s -rates 0.1 -capacity 2000,4000

fuzz: ## fuzz the checkout decoding for 2 minutes
	cd services && $(GO) test -run '^$$' -fuzz FuzzDecodeCheckout -fuzztime 2m ./internal/gateway

clean: ## remove what the build made
	rm -rf bin build data
