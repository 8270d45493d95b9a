# Switchboard: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
# Django 6 needs Python 3.12+; the first suitable interpreter found wins, PYTHON=... overrides.
PYTHON ?= $(shell for c in python3.12 python3.13 python3.14 python3 $$HOME/.pyenv/versions/3.12*/bin/python3 $$HOME/.pyenv/versions/3.13*/bin/python3 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	$$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1 && { echo $$c; break; }; done)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help run test test-pg lint format bench soak mutants install clean
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-test.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.12+ not found; install it or pass PYTHON=/path/to/python3.12"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the pinned requirements

run: $(STAMP) ## migrate, load demo data, then run Redis, worker, scheduler and the web server at :8000
	$(PY) manage.py run_site $(RUN_ARGS)

test: $(STAMP) ## run the whole test suite (private Redis, SQLite unless DATABASE_URL is set)
	$(PY) -m pytest $(PYTEST_ARGS)

mutants: $(STAMP) ## break each guarantee on purpose (tests/mutants.py) and check its tests fail 3 runs of 3
	$(PY) -m tests.mutants $(MUTANTS_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## apply ruff format and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## run every benchmark in bench/ (each prints its ratios last)
	$(PY) -m pip install -q -r requirements-bench.txt
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS); done

soak: $(STAMP) ## 60 s soak of the whole site with injected faults (SOAK_ARGS="--db postgres", "--short", ...)
	$(PY) bench/soak.py $(SOAK_ARGS)

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) data .pytest_cache
