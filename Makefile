# Mini-NAS web. `make run` starts everything; `make test` runs the whole suite. Both work on a
# fresh machine with only Python 3.11: they create .venv and install what is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-fast lint install chromium nginx demo-cli bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Debian's Chromium for the browser test (Playwright drives it; it never downloads a browser).
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Debian chromium for the browser test"; \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's nginx for the tests of deploy/nginx.conf in front of the real web server.
nginx:
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
		echo "installing Debian nginx for the proxy tests"; \
		(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi

# Sets up the database, starts Redis, the ASGI server and an RQ worker, seeds a demo user and a
# small real dataset, and prints the URL and login. Ctrl-C stops all of it.
run: install
	$(PY) -m mininas_web.launcher

# Everything: the engine (tests/nas), the web layer (tests/web) and the live services
# (tests/live: a real Redis, RQ workers, Chromium).
test: install chromium nginx
	$(PY) -m pytest -q

# The inner loop: engine and web layers, no live services (about a minute).
test-fast: install
	$(PY) -m pytest -q tests/nas tests/web -m "not live"

# ruff, and the architecture contracts in pyproject.toml (import-linter).
lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

# The engine alone on a real dataset that ships with scikit-learn (8x8 digits upscaled to 16 px).
demo-cli: install
	$(PY) -m searchapp.nas.demo_data var/digits.npz
	$(PY) -m searchapp.nas search var/digits.npz --out var/demo-cli --max-depth 6 --epochs 8

bench: install
	$(PY) bench/train_speed.py
