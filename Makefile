# tierwall: an operator that turns declared application tiers into
# least-privilege NetworkPolicies. Run `make help` for the targets.

# Tool versions, pinned. Kubernetes for envtest follows k8s.io/api in go.mod.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.7.1
GOLANGCI_LINT_VERSION ?= v2.15.0

IMG ?= ghcr.io/tierwall/tierwall:latest
CONTAINER_TOOL ?= docker
# How much `make fuzz` runs the fuzz target: a count of executions (Nx).
# A duration (30s) also works, but on Go 1.26 the fuzz coordinator can fail
# a clean run with "context deadline exceeded" when the duration expires
# (golang/go#75804, fixed in Go 1.27); a count never hits that deadline.
FUZZTIME ?= 50000x

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the kubebuilder markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can make.
	$(GOLANGCI_LINT) run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Check .golangci.yml against golangci-lint's schema.
	$(GOLANGCI_LINT) config verify

.PHONY: verify
verify: manifests generate fmt ## Regenerate code and manifests and tidy go.mod; fail if anything changed.
	go mod tidy -diff
	cd test/dataplane && go mod tidy -diff
	for d in $(EXAMPLES); do (cd $$d && go mod tidy -diff) || exit 1; done
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "The tree changed: run 'make manifests generate fmt' and 'go mod tidy', and commit the result."; \
		git status --porcelain; git --no-pager diff --stat; exit 1; fi

.PHONY: envtest
envtest: ## Build (once) the kube-apiserver, etcd and kubectl that the tests need, from Go module sources.
	@hack/envtest-binaries.sh >/dev/null

# ENVTEST_ASSETS resolves, and builds on first use, the envtest binaries.
ENVTEST_ASSETS = $(shell hack/envtest-binaries.sh)

.PHONY: test
test: manifests generate vet envtest ## Run all unit and envtest tests, and one iteration of every benchmark (so that make bench keeps working).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test ./... -coverprofile cover.out
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test ./... -run '^$$' -bench . -benchtime 1x
	@echo "Real packets are proved by 'make test-dataplane' (as root; kube-router in network namespaces), which .ci/run runs after this."

# EXAMPLES are the runnable examples, each a Go module of its own that
# imports tierwall as a user's repository would (a replace points at this
# checkout): the Go toolchain refuses internal/ across modules, so they
# prove the public packages are enough.
EXAMPLES = $(patsubst %/go.mod,%,$(wildcard examples/*/go.mod))

.PHONY: test-examples
test-examples: envtest ## Run examples/: an envtest + Ginkgo suite and a GitOps CI check, as users copy them.
	@[ -z "$$(gofmt -l examples)" ] || { echo "test-examples: run gofmt -w examples" >&2; gofmt -l examples; exit 1; }
	for d in $(EXAMPLES); do (cd $$d && go vet ./... && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test ./... -count=1) || exit 1; done

# test-dataplane checks root before anything else, so that a user without
# it learns so at once rather than after building the envtest binaries.
# The lab is a module of its own (test/dataplane): it is tidied, formatted
# and vetted here, not by the targets above.
.PHONY: test-dataplane
test-dataplane: manifests ## Prove the policies with real TCP and UDP packets under kube-router, K3s's NetworkPolicy engine, in network namespaces (root; DATAPLANE_FLAGS for go test flags).
	@[ "$$(id -u)" -eq 0 ] || { echo "test-dataplane: the lab needs root to create network namespaces and iptables rules in them: run 'sudo make test-dataplane' (CI runs as root)" >&2; exit 1; }
	cd test/dataplane && go mod tidy -diff
	@[ -z "$$(gofmt -l test/dataplane)" ] || { echo "test-dataplane: run gofmt -w test/dataplane" >&2; gofmt -l test/dataplane; exit 1; }
	cd test/dataplane && go vet ./...
	KUBEBUILDER_ASSETS="$$(hack/envtest-binaries.sh)" test/dataplane/lab.sh -test.v $(DATAPLANE_FLAGS)

# test-e2e builds the manager itself (not `build`, which also needs the CLI),
# so that the binary under test always matches the source.
.PHONY: test-e2e
test-e2e: manifests kustomize envtest ## Install with kustomize and kubectl on a local control plane, as a user would, and test it.
	go build -o $(LOCALBIN)/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KUSTOMIZE="$(KUSTOMIZE)" MANAGER_BIN="$(LOCALBIN)/manager" \
		go test -tags e2e ./test/e2e/ -count=1 -v -ginkgo.v -timeout 10m

# How long `make soak` churns, and how long its quiet period lasts.
SOAK_DURATION ?= 2m
SOAK_QUIET ?= 30s

# soak is the e2e install under churn; its build tag keeps it out of
# test-e2e and CI. SOAK_SEED=<n> replays the seed a run printed.
.PHONY: soak
soak: manifests kustomize envtest ## Soak the installed manager for SOAK_DURATION: hostile specs, label flapping, kill -9, an API server restart; then check convergence.
	go build -o $(LOCALBIN)/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" KUSTOMIZE="$(KUSTOMIZE)" MANAGER_BIN="$(LOCALBIN)/manager" \
		SOAK_DURATION="$(SOAK_DURATION)" SOAK_QUIET="$(SOAK_QUIET)" SOAK_SEED="$(SOAK_SEED)" \
		go test -tags e2e,soak ./test/e2e/ -count=1 -v -ginkgo.v -ginkgo.label-filter=soak -timeout 30m

.PHONY: fuzz
fuzz: ## Fuzz the renderer for FUZZTIME.
	go test ./pkg/render/ -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)

# How `make bench` runs: BENCH_COUNT runs of each benchmark, so that
# benchstat can compare two outputs (make bench > old.txt; ...; benchstat
# old.txt new.txt).
BENCH_COUNT ?= 1
.PHONY: bench
bench: ## Run the Go benchmarks of the evaluator, the renderer and a reconcile (benchstat-friendly; BENCH_COUNT=6 for benchstat).
	go test ./pkg/... ./internal/... ./controllers/ -run '^$$' -bench . -benchmem -count $(BENCH_COUNT)

# PERF_ARGS are the flags of test/perf: -apps N -pods M -namespaces K ...
# (go run ./test/perf -h lists them). The defaults finish in minutes on two
# cores; docs/performance.md gives the full-scale run.
PERF_ARGS ?=
.PHONY: perf
perf: manifests envtest ## Measure the operator against a bare client on a local control plane: time ratio, writes, no-op writes, heap per pod (PERF_ARGS).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./test/perf $(PERF_ARGS)

.PHONY: demo
demo: manifests envtest ## Start a local control plane and the operator, apply the WordPress sample, and show what tierwall generated (DEMO_KEEP=1 keeps it running).
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/demo $(if $(DEMO_KEEP),--keep)

##@ Build

.PHONY: build
build: manifests generate ## Build the manager and the tierwall CLI into bin/, and bin/kubectl-tierwall, the CLI as a kubectl plugin.
	go build -o $(LOCALBIN)/manager ./cmd
	go build -o $(LOCALBIN)/tierwall ./cmd/tierwall
	ln -sf tierwall $(LOCALBIN)/kubectl-tierwall

.PHONY: run
run: manifests generate ## Run the manager against the cluster of the current kubeconfig.
	go run ./cmd

.PHONY: docker-build
docker-build: ## Build the manager image IMG (needs a container engine).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image IMG.
	$(CONTAINER_TOOL) push $(IMG)

# PLATFORMS are the platforms docker-buildx builds the manager image for
# (make docker-buildx IMG=myregistry/tierwall:0.1.0). It needs docker buildx
# with BuildKit, and pushes to IMG's registry. Unlike kubebuilder's scaffold
# it builds from the Dockerfile itself, without a Dockerfile.cross: the
# Dockerfile's builder stage already runs on --platform=$BUILDPLATFORM and
# cross-compiles for TARGETOS/TARGETARCH. A failed build fails the target
# (kubebuilder's ignores it) after the builder is removed.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le
.PHONY: docker-buildx
docker-buildx: ## Build and push the manager image IMG for every platform in PLATFORMS.
	- $(CONTAINER_TOOL) buildx create --name tierwall-builder
	$(CONTAINER_TOOL) buildx use tierwall-builder
	$(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --tag $(IMG) -f Dockerfile . || rc=$$?; \
		$(CONTAINER_TOOL) buildx rm tierwall-builder; exit $${rc:-0}

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml: everything `make deploy` installs, in one file, with image IMG.
	mkdir -p dist
	$(call kustomize-build-default) > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRD (and every AppIsolation) from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator, with image IMG, to the cluster of the current kubeconfig.
	$(call kustomize-build-default) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into bin/.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

# kustomize-build-default prints config/default with the manager image set to
# IMG. It sets the image in a copy of config/, so that the tree stays clean.
define kustomize-build-default
tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp -R config "$$tmp/" && \
	(cd "$$tmp/config/manager" && $(KUSTOMIZE) edit set image controller=$(IMG)) && \
	$(KUSTOMIZE) build "$$tmp/config/default"
endef

# go-install-tool installs $2@$3 as $1-$3 and links $1 to it, so that a
# version bump in this file reinstalls the tool.
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(basename "$(1)-$(3)")" ] || { \
set -e; \
echo "Installing $(2)@$(3)"; \
rm -f "$(1)"; \
GOBIN="$(LOCALBIN)" go install $(2)@$(3); \
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)"; \
ln -sf "$$(basename "$(1)-$(3)")" "$(1)"; \
}
endef
