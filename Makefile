# Two set-up-and-go commands (README): `make backtest` runs the main job, `make test` runs the suite.
# Both create .venv with Python 3.12 (.python-version) and install exactly requirements.lock first.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: backtest test bench mutate demo lock clean

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

# Mutation run over the gate and the safety rules (issue 7): kill rate and survivors, also in runs/mutation/.
# Sample or narrow it with ARGS, e.g. make mutate ARGS="risk/rules.py --limit 60".
mutate: $(STAMP)
	$(BIN)/python tests/mutation/run.py --jobs 2 $(ARGS)

# Re-pin the exact dependency set after changing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV)
