# Every target creates or reuses .venv on its own; nothing else is needed on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REDIS_URL ?= redis://127.0.0.1:6379/0
export REDIS_URL

.PHONY: run quickstart test bench docs lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.stamp-%: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[$*]'
	@touch $@

$(VENV)/.stamp-base: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	@touch $@

# The actor tree: pulsards, a store actor and counter workers (Ctrl-C stops it).
run: $(VENV)/.stamp-base
	$(PY) -m arbiter examples.demo -w $(or $(WORKERS),2)

# The stores API on its own against the Redis at REDIS_URL.
quickstart: $(VENV)/.stamp-base
	$(PY) tests/with_redis.py -- $(PY) examples/quickstart.py

test: $(VENV)/.stamp-test
	$(PY) tests/with_redis.py -- $(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test
	$(PY) tests/with_redis.py -- $(PY) benchmarks/client_bench.py
	$(PY) benchmarks/mailbox_bench.py
	bash benchmarks/server_bench.sh
	$(PY) tests/with_redis.py -- $(PY) benchmarks/proxy_bench.py

docs: $(VENV)/.stamp-docs
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(VENV)/.stamp-lint
	$(PY) -m ruff check stores actors arbiter tests benchmarks examples docs/conf.py
	$(PY) -m mypy

clean:
	rm -rf $(VENV) docs/_build build *.egg-info
