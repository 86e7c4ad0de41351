# callroles: every target sets up what it needs (deploy/setup.sh is idempotent).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
export CALLROLES_HOME ?= $(CURDIR)/.callroles

.PHONY: help setup test test-fast lint bench demo stack-start stack-stop clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup:  ## install everything (Debian packages, .venv, model weights, Kafka jars)
	@deploy/setup.sh

test: setup  ## the whole test suite (starts its own Kafka and Redis on test ports)
	$(PY) -m pytest -ra $(PYTEST_ARGS)

test-fast: setup  ## tests without the slow ones
	$(PY) -m pytest -ra -m "not slow" $(PYTEST_ARGS)

lint: setup  ## ruff, mypy, import layers (.importlinter), module size and imports in functions
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests/test_code_rules.py

bench: setup  ## benchmarks, results as JSON in bench/results/
	$(VENV)/bin/callroles bench all

demo: setup  ## the main job on generated example calls (starts and stops its own stack)
	$(VENV)/bin/callroles demo $(DEMO_ARGS)

stack-start: setup  ## start the local Kafka and Redis
	$(VENV)/bin/callroles stack start

stack-stop:  ## stop them
	$(VENV)/bin/callroles stack stop
