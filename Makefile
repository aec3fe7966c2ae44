# fieldnode: two commands do everything on a fresh machine.
#   make demo   the main job: a virtual board, its modem and a local collector
#   make test   every test (lint, firmware builds for every board, pytest)
# Both create .venv on first use and install the pinned dependencies from pyproject.toml.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
BOARD  ?= m5stack-core2
# Workers for pytest-xdist; CI has 2 cores.
JOBS   ?= 2

.PHONY: all venv test lint firmware firmware-all demo bench clean help

help:
	@echo "make demo                 run the main job on the built-in defaults"
	@echo "make test                 lint, build firmware for every board, run every test"
	@echo "make firmware BOARD=name  compile the firmware for one board into build/firmware/<board>/"
	@echo "make bench                benchmarks: prints a table, writes build/bench.json"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check host firmware tools tests

firmware: $(STAMP)
	$(PY) tools/build_firmware.py $(BOARD)

firmware-all: $(STAMP)
	$(PY) tools/build_firmware.py

test: $(STAMP) lint firmware-all
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -q

demo: $(STAMP)
	$(PY) tools/demo.py

bench: $(STAMP)
	$(PY) tools/bench.py

clean:
	rm -rf build .pytest_cache .ruff_cache
