# The two commands: `make run` and `make test`. Only Python 3.11+ is needed on the machine.
PYTHON ?= $(shell command -v python3.12 || command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export DEBUG ?= 1

.PHONY: run test lint bench stop-embedded clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
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
