# The two commands: `make run` and `make test`. Only Python 3.11+ is needed on the machine.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
export DEBUG ?= 1

.PHONY: run test lint bench stop-embedded clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is required (python3 on PATH, or PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed
	$(PY) manage.py serve

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	for script in bench/*.py; do $(PY) $$script || exit 1; done

stop-embedded:
	$(PY) -c 'from pathlib import Path; from tickstock_ops import embedded_redis; embedded_redis.stop(Path("var"))'

clean: stop-embedded
	rm -rf $(VENV) var
