# Two commands matter: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
# The embedded default: SQLite next to the checkout. Production sets DATABASE_URL.
DATABASE_URL ?= sqlite:///$(CURDIR)/var/migstat.sqlite
export DATABASE_URL

.PHONY: serve test install demo bench clean system-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Publish the demonstration calendar of releases (once), then serve it.
demo: install
	$(VENV)/bin/publisher demo --workdir var/demo

# The API, with the release scheduler in the same process (publisher serve).
serve: demo
	$(VENV)/bin/publisher serve --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest -q

# Debian packages some tests and benchmarks use (they are skipped, with the reason, without
# them): Chromium for the explorer's browser tests, nginx for the proxy test, wrk for the
# load test. Playwright drives the system Chromium; it never downloads a browser.
system-deps:
	apt-get install -y --no-install-recommends chromium nginx-light wrk

bench: install
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache
