# Lead Funnel Warehouse. `make help` lists the targets. Everything bootstraps itself:
# uv is installed with pip when missing, .venv is created from uv.lock.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
BIN := $(VENV)/bin
# Where PYTHONDONTWRITEBYTECODE is set Python writes no .pyc, and each new process compiles
# what it imports (dagster, dbt and pandas: 11-12 s against 5 s): compiled once, at sync.
UV_SYNC_FLAGS := --frozen --compile-bytecode
# The stamp sums the lock, the project and the flags: a change of any of them syncs again.
STAMP := $(VENV)/.synced-$(shell (cat uv.lock pyproject.toml; echo '$(UV_SYNC_FLAGS)') | cksum | cut -d' ' -f1)

export DUCKDB_PATH := $(abspath $(or $(DUCKDB_PATH),warehouse/funnel.duckdb))
export LANDING_DIR := $(abspath $(or $(LANDING_DIR),landing))
export DAGSTER_HOME := $(abspath $(or $(DAGSTER_HOME),dagster_home))

LEADS ?= 20000
SEED ?= 42

.PHONY: help setup browser postgres run test test-spark lint ui demo bench report manifest clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): uv.lock pyproject.toml
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync $(UV_SYNC_FLAGS)
	@rm -f $(VENV)/.synced-* && touch $@

setup: $(STAMP) ## Create .venv from uv.lock (installs uv if missing)

# The report's browser test drives Debian's chromium (no browser download at run time).
CHROMIUM := $(shell command -v chromium 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser: ## Install Debian's chromium for the report's browser test (apt-get)
ifeq ($(CHROMIUM),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null
endif
	@chromium --version 2>/dev/null | head -1

# The PostgreSQL serving target's tests start a throwaway server from Debian's package.
PG_INITDB := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
postgres: ## Install Debian's postgresql for the PostgreSQL serving tests (apt-get)
ifeq ($(PG_INITDB),)
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql >/dev/null
endif
	@ls /usr/lib/postgresql/*/bin/initdb

run: setup ## Main job: demo data if landing/ is empty, ingest -> dbt -> checks -> publish -> weekly report
	$(BIN)/funnel run --demo-leads $(LEADS)

# Test files run in parallel workers (pytest-xdist); a file's tests share one worker and its fixtures.
# Files start longest first (tests/conftest.py orders them by their `slow` mark); without
# --no-loadscope-reorder xdist would re-sort them by their number of tests instead.
# The 25 slowest tests (and fixtures) are listed at the end: where the suite's time goes.
TEST_WORKERS ?= 2
PYTEST_ARGS ?= --durations=25
test: setup browser postgres ## Run the whole test suite (lint included; installs chromium and postgresql if missing)
	$(BIN)/ruff check orchestration expectations tests
	REQUIRE_BROWSER=1 REQUIRE_POSTGRES=1 $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# Spark (FUNNEL_ENGINE=spark) needs Java 17+, which the machine provides (java -version);
# pyspark comes from uv.lock. `make test` runs the golden-fixture parity of both engines.
test-spark: setup ## Engine parity in full: dbt unit tests on Spark and a 3,000-lead demo on both engines
	FUNNEL_SPARK_FULL=1 $(BIN)/pytest tests/test_engine_parity.py -v

lint: setup ## Lint and check formatting of the Python code
	$(BIN)/ruff check orchestration expectations tests

ui: setup ## Start the Dagster UI on the full asset graph (dagster dev -w workspace.yaml)
	$(BIN)/dagster dev -w workspace.yaml

demo: setup ## Generate demo extracts into landing/ (LEADS=20000 SEED=42)
	$(BIN)/funnel demo --leads $(LEADS) --seed $(SEED)

SCALE ?= 1000000
bench: setup ## Time a full run at SCALE leads (default 1,000,000) and print the figures
	$(BIN)/funnel bench --leads $(SCALE)

WEEK ?=
report: setup ## Build the weekly report (WEEK=2026-W47; default the last complete week)
	$(BIN)/funnel report $(if $(WEEK),--week $(WEEK))

manifest: setup ## Parse the dbt project (done automatically when it changed)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir .

clean: ## Remove the warehouse, generated landing data and dbt artifacts
	rm -rf warehouse landing reports dbt_project/target dbt_project/logs
