# Two set-up-and-go commands (README): `make backtest` runs the main job, `make test` runs the suite.
# Both create .venv with Python 3.12 (.python-version) and install exactly requirements.lock first.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: backtest test bench demo lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

backtest: $(STAMP)
	$(BIN)/odte backtest

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Re-pin the exact dependency set after changing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV)
