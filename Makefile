# Everything a fresh machine needs comes from here: Python 3.11 and make are the only prerequisites.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8765
# Two locks with identical pins for the packages they share: requirements.lock is what Plimsoll
# needs to run (`make serve`, `make demo`), requirements-dev.lock adds the tools of `make test`.
# The venv is synced to exactly one of them; the dev stamp implies the runtime one, so `make serve`
# after `make test` keeps the dev tools (it syncs the dev lock again if a lock changed).
# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set (CI images, many
# containers) Python would otherwise compile every module of SciPy, pandas and SQLAlchemy again in
# every process, 2-3 s per `plimsoll` command and per server or worker a test starts.
UV_SYNC := $(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python
UV_INSTALL := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install dev serve test lint typecheck pytest bench bench-monitoring bench-serving lock wheel clean demo screenshots

install: $(RUNTIME_STAMP)

dev: $(DEV_STAMP)

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(RUNTIME_STAMP): requirements.lock requirements-dev.lock pyproject.toml | $(BIN)/uv
	if [ -e $(DEV_STAMP) ]; then \
	  $(UV_SYNC) requirements-dev.lock; \
	else \
	  $(UV_SYNC) requirements.lock; \
	fi
	$(UV_INSTALL) --no-deps -e .
	if [ -e $(DEV_STAMP) ]; then touch $(DEV_STAMP); fi
	touch $(RUNTIME_STAMP)

$(DEV_STAMP): requirements.lock requirements-dev.lock pyproject.toml | $(BIN)/uv
	$(UV_SYNC) requirements-dev.lock
	$(UV_INSTALL) --no-deps -e .
	touch $(DEV_STAMP) $(RUNTIME_STAMP)

serve: install
	$(BIN)/plimsoll server --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/plimsoll demo

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/python -m compileall -q src > /dev/null  # our own modules, for the processes tests start
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/tracking.py

# bench/monitoring.py: logging throughput (with MLflow beside it when .venv-bench-mlflow exists).
bench-monitoring: install
	$(BIN)/python bench/monitoring.py

# bench/serving.py: the same model served by Plimsoll, a bare FastAPI app and `mlflow models serve`.
bench-serving: install
	$(BIN)/python bench/serving.py

# Re-resolve both locks after editing pyproject.toml dependencies: the runtime one first, then the
# dev one constrained by it, so a package both hold has the same pin in each.
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev -c requirements.lock --python-version 3.11 \
	  --generate-hashes -o requirements-dev.lock

# A wheel of Plimsoll in dist/, to `pip install` into another project's environment.
wheel: | $(BIN)/uv
	$(BIN)/uv build --wheel --out-dir dist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Re-take docs/screenshots/ from the demo's runs and the housing monitor, as the UI tests see them.
screenshots: dev
	PLIMSOLL_SCREENSHOTS=update $(BIN)/pytest -n 0 tests/ui/test_screenshots.py tests/ui/test_monitor_pages.py
