# Quick start: `make run` (serve on 127.0.0.1:8000) and `make test` (whole suite).
# Everything a command needs is installed here; nothing is to be exported by hand.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

# The venv is (re)built when pyproject.toml changes; the stamp keeps re-runs fast.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# npm packages that the compatibility tests drive (rokka, jsonwebtoken, socket.io-client).
tests/js/node_modules/.installed: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# npm packages of the runnable examples (examples/README.md), which tests/examples runs.
examples/node_modules/.installed: examples/package.json examples/package-lock.json
	cd examples && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: venv run test lint node examples chromium clean
venv: $(VENV)/.installed
node: tests/js/node_modules/.installed
examples: examples/node_modules/.installed

# Debian's Chromium, which the admin's browser tests (tests/browser, Playwright) drive; Playwright's own
# browser download is not used. Installed on first use only.
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

run: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensureadmin --url http://$(HOST):$(PORT)/admin/
	$(BIN)/python -m authplatform.server -b $(HOST) -p $(PORT) authplatform.asgi:application

test: lint node examples chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Style (ruff: format and check) and types (mypy, the app's packages); config in pyproject.toml.
lint: venv
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) tests/js/node_modules examples/node_modules

# --- benchmarks (bench/README.md): `make bench` (~10-15 min) or `make bench-quick` (< 1 min) -----
# Bench-only packages (pyproject's `bench` extra) and wrk (Debian) are installed on first use only.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

.PHONY: bench bench-quick bench-deps
bench-deps: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }

bench: bench-deps
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: bench-deps
	$(BIN)/python -m bench --quick $(BENCH_ARGS)
