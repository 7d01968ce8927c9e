# Two commands matter: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
HOST   ?= 127.0.0.1
# The embedded default: SQLite next to the checkout. Production sets DATABASE_URL.
DATABASE_URL ?= sqlite:///$(CURDIR)/var/migstat.sqlite
export DATABASE_URL

.PHONY: serve test install demo bench clean

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

bench: install
	$(PY) bench/run.py

clean:
	rm -rf var .pytest_cache
