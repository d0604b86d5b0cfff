# haocha — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 5000
# Demo data for a first run on an empty database (`make run DEMO_RATINGS=1000000` for scale).
DEMO_TICKETS ?= 2000
DEMO_RATINGS ?= 20000
export FLASK_APP := wsgi

.PHONY: run test lint translations install install-dev bench clean

$(STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

install: $(STAMP) translations

install-dev: $(DEV_STAMP) translations

# Compile every package's Chinese catalog (the .mo files are build output, not in git).
translations: $(STAMP)
	@for dir in */translations; do \
	  if [ -d "$$dir/zh_Hans_CN" ]; then $(VENV)/bin/pybabel compile -d "$$dir" -l zh_Hans_CN || exit 1; fi; \
	done

run: install
	$(VENV)/bin/flask db upgrade
	$(VENV)/bin/flask demo load --if-empty --tickets $(DEMO_TICKETS) --ratings $(DEMO_RATINGS)
	@echo "Demo sign-ins (username, role, password):"
	@cat instance/demo-signins.txt 2>/dev/null || echo "  (see instance/demo-signins.txt of the first run)"
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C stops the server and the scheduler)"
	@$(VENV)/bin/flask scheduler run & SCHED=$$!; \
	  trap 'kill $$SCHED 2>/dev/null' EXIT INT TERM; \
	  $(VENV)/bin/flask run --host $(HOST) --port $(PORT)

# `make test` skips the soak, crash and multi-process tests (marked slow) and the journeys in
# Chromium (marked browser); .ci/run runs them all. `make test TEST_MARKS="slow or browser"` runs
# just those, `make test TEST_MARKS=` everything.
TEST_MARKS ?= not slow and not browser
# Two test processes (pytest-xdist) on SQLite alone; one when TEST_DATABASE_URL names a database
# the processes would share. `make test TEST_JOBS=0` runs in one process.
TEST_JOBS ?= $(if $(TEST_DATABASE_URL),0,2)
test: install-dev
	$(PY) -m pytest -n $(TEST_JOBS) $(if $(TEST_MARKS),-m "$(TEST_MARKS)") $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: install-dev
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
