# The two set-up commands of README.md: `make demo` (the main job on the built-in demo download)
# and `make test` (the whole test suite, as CI runs it). Both install what they need first.
PY ?= python3
DEMO_DIR ?= demo-mot

.PHONY: install install-test demo test lint

install:
	$(PY) -m pip install -q -e .

install-test:
	$(PY) -m pip install -q -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error  # package.json: the SARIF Multitool for tests/test_sarif.py
	bash .ci/install-system

demo: install
	rm -rf $(DEMO_DIR)
	motqa demo $(DEMO_DIR)
	motqa ingest $(DEMO_DIR) $(DEMO_DIR).deeplake --overwrite

test: install-test
	$(PY) -m pytest

lint:
	$(PY) -m ruff check motqa tests bench
	$(PY) -m mypy
