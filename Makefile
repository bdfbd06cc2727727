# Entry points for people and CI. Each one sets up what it needs first, so a
# fresh machine needs nothing more than `make test` (which is what .ci/run does).

VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BUF    := node_modules/.bin/buf

.DEFAULT_GOAL := setup
.PHONY: setup venv system node_modules run test lint protos bench image image-test

setup: venv system node_modules

# --- Python: reinstalled only when the package metadata changes -------------

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	touch $@

# --- System servers (nats-server, PostgreSQL); a no-op once installed -------

system:
	bash tools/bootstrap.sh

# --- Node tools (buf); stamped on the buf binary ---------------------------

node_modules: $(BUF)

$(BUF): package.json $(wildcard package-lock.json)
	if [ -f package-lock.json ]; then \
		npm ci --no-audit --no-fund; \
	else \
		npm install --no-audit --no-fund; \
	fi
	touch $@

# --- Everyday targets --------------------------------------------------------

# TLS=1: mutual TLS for gRPC and NATS with local dev certificates (crm up --tls).
run: setup
	$(VENV)/bin/crm up $(if $(TLS),--tls,)

test: setup
	$(VENV)/bin/pytest -n 2 --dist loadscope $(PYTEST_ARGS)

lint: venv node_modules
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(BUF) lint

protos: venv
	$(PYTHON) tools/genproto.py

# QUICK=1 for a short run.
bench: setup
	$(PYTHON) -m bench $(if $(QUICK),--quick,)

# The container image from the Dockerfile, built with buildah (no Docker
# engine): IMAGE=... to tag it, BASE=official|debian|auto (tools/build-image.sh).
image:
	bash tools/build-image.sh

# Builds the image and checks it: migrate, serve, health SERVING, clean SIGTERM.
image-test: setup
	$(VENV)/bin/pytest -m image tests/deploy/test_image.py
