# FlashDispatch: `make demo` and `make test` take a fresh machine (Python 3.11 + pip) all the way.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit venv promtool chromium wrk vendor-map clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/flashdispatch demo

# promtool (Debian's prometheus package) is needed by the rule and scrape tests.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's prometheus package for promtool"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# Debian's chromium drives the operators' map and the tracking page in tests/browser (headless, over
# the DevTools protocol; no driver that downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# Debian's wrk: the load generator `flashdispatch bench intake` prefers (it falls back to aiohttp
# client processes without it); not needed by the tests.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		echo "installing Debian's wrk"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

# Refresh the vendored map library (Leaflet, pinned in the script) from the npm registry.
vendor-map:
	deploy/vendor-map.sh

lint: $(STAMP)
	$(BIN)/ruff check dispatch geo stores tests deploy
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

test: $(STAMP) promtool chromium lint
	XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-/tmp} $(BIN)/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) .flashdispatch
