# Two commands matter: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
# The embedded default: SQLite next to the checkout. Production sets DATABASE_URL.
DATABASE_URL ?= sqlite:///$(CURDIR)/var/migstat.sqlite
export DATABASE_URL

.PHONY: serve test install demo bench clean system-deps test-system-deps

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

test: install test-system-deps
	$(PY) -m pytest -q

# The browser tests need Chromium and the proxy test nginx (Debian packages). Installed here
# when missing and possible (root with apt-get); otherwise those tests are skipped, each
# with the reason.
test-system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages for the browser and proxy tests:$$missing"; \
	    apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 \
	      || echo "could not install$$missing: the tests that need them will be skipped"; \
	  else echo "missing$$missing (make system-deps as root): the tests that need them will be skipped"; fi; \
	fi

# Debian packages some tests and benchmarks use (they are skipped, with the reason, without
# them): Chromium for the explorer's browser tests, nginx for the proxy test, wrk for the
# load test. Playwright drives the system Chromium; it never downloads a browser.
system-deps:
	apt-get install -y --no-install-recommends chromium nginx-light wrk

bench: install
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache
