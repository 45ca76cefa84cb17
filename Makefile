# Quick start:  make demo   (set up, build the example site, serve it with the paywall)
#               make test   (set up, lint, run the whole test suite)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo build serve test lint format bench chaos clean

# The product and, beside it, the local Stripe test server (its own distribution under
# tools/, for the demo and the tests; never in the product's wheel).
$(STAMP): pyproject.toml tools/stripe_local/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]' -e 'tools/stripe_local[test]'
	touch $(STAMP)

setup: $(STAMP)

build: setup
	$(BIN)/kp build

# make demo PORT=8123: every link of the demo site (canonical, sitemap, invites) uses that port.
PORT ?= 8000

demo: setup
	$(BIN)/kp demo --port $(PORT)

serve: build
	$(BIN)/kp serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# One pytest process by default. PYTEST_WORKERS=2 runs two (pytest-xdist, whole files per
# worker): about a third faster on two cores, but two browser journeys then race now and
# then on a loaded machine (a sign-in's header read as signed out), so it is not the default.
PYTEST_WORKERS ?= 0

test: setup lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

# The chaos suite: buyers, duplicated/reordered webhooks, Stripe and database outages; then
# every buyer's Stripe truth against the paywall's database (CHAOS_ARGS="--buyers 50 …").
chaos: setup
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf site private var .kp-cache test-artifacts
