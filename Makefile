# Airlock's public entry points. Everything installs itself: a Python virtualenv in .venv and the local
# control plane (etcd, kube-apiserver, kubectl built from Go modules) in a cache keyed by version.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)/operator

.PHONY: help venv control-plane argocd eval-tools demo demo-gitops test test-unit lint crds docs bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP) ## install Python dependencies into .venv

control-plane: ## build etcd, kube-apiserver, kubectl, helm and promtool from Go modules, fetch the Argo Rollouts and KEDA CRDs (cached by version)
	@bash hack/build-control-plane.sh >/dev/null
	@bash hack/fetch-crds.sh >/dev/null
	@bash hack/build-helm.sh >/dev/null
	@bash hack/build-promtool.sh >/dev/null

argocd: ## build Argo CD (controller, repo server, API server, CLI) from Go modules (cached by version)
	@bash hack/build-argocd.sh >/dev/null

eval-tools: ## install Inspect AI (PyPI) and promptfoo (npm), whose results the tests import (cached by version)
	@bash hack/install-eval-tools.sh >/dev/null

demo: venv control-plane ## bring up a local control plane and walk through the pilot, promotion and kill switch
	$(PY) -m airlock_dev.demo

demo-gitops: venv control-plane argocd ## the same story through a real Argo CD syncing a local git repository (root, redis-server)
	AIRLOCK_CONTROL_PLANE_BIN=$$(bash hack/build-control-plane.sh) $(PY) -m airlock_dev.demo_gitops

test: venv control-plane argocd eval-tools ## run every test, including those on the real API server
	AIRLOCK_CONTROL_PLANE_BIN=$$(bash hack/build-control-plane.sh) \
	AIRLOCK_WORKLOAD_CRDS="$$(bash hack/fetch-crds.sh | paste -sd:)" \
	AIRLOCK_EVAL_TOOLS_BIN=$$(bash hack/install-eval-tools.sh 2>/dev/null) $(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv eval-tools ## only the tests that need no cluster (helm renders the chart, promtool tests the alerts, Inspect AI and promptfoo run)
	@bash hack/build-helm.sh >/dev/null
	@bash hack/build-promtool.sh >/dev/null
	$(PY) -m pytest -m "not cluster" $(PYTEST_ARGS)

lint: venv ## mypy --strict, ruff, the import contract, and the CRDs and schemas against the models
	$(PY) -m mypy
	$(VENV)/bin/ruff check operator tests hack
	$(VENV)/bin/ruff format --check operator tests hack
	$(VENV)/bin/lint-imports
	$(PY) hack/gen_crds.py --check
	$(PY) hack/gen_schemas.py --check
	$(PY) hack/gen_docs.py --check
	$(PY) hack/sync_chart_crds.py --check
	$(PY) hack/gen_manifests.py --check

crds: venv ## regenerate crds/ and the editor schemas in schemas/ from the models, then the chart's copies and manifests/base
	$(PY) hack/gen_crds.py
	$(PY) hack/gen_schemas.py
	$(PY) hack/sync_chart_crds.py
	$(PY) hack/gen_manifests.py

docs: venv ## regenerate the field reference in docs/packet.md from the models
	$(PY) hack/gen_docs.py

bench: venv control-plane ## measure latency, overhead and memory on the local control plane
	AIRLOCK_CONTROL_PLANE_BIN=$$(bash hack/build-control-plane.sh) $(PY) -m airlock_dev.bench

clean: ## remove the virtualenv and caches in the tree (not the control-plane cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
