PY ?= python3

.PHONY: install test bench lint samples

install:
	$(PY) -m pip install -e '.[test]'

test:
	$(PY) -m pytest

bench:
	$(PY) bench/run_all.py

lint:
	$(PY) -m ruff check bpfc tests bench
	$(PY) -m mypy --strict bpfc
