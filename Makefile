# Two set-up-and-go commands (README): `make backtest` runs the main job, `make test` runs lint, format check,
# type check and the suite. Both create .venv with Python 3.12 (.python-version) and install exactly
# requirements.lock first.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: backtest test lint format bench mutate demo lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

backtest: $(STAMP)
	$(BIN)/odte backtest

test: lint
	$(BIN)/python -m pytest -q -n 2 tests

# Lint, format check and type check alone (settings: pyproject.toml [tool.ruff] and [tool.mypy]). mypy runs
# through tests/typecheck.py: it cannot follow the editable install's mapping of risk/ and strategies/ to
# odte_nautilus.risk and odte_nautilus.strategies, so the script lays the installed layout out as symlinks
# in build/typecheck/ and reports against the real files.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python tests/typecheck.py

# Apply ruff's formatting and its safe lint fixes.
format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# Mutation run over the gate and the safety rules (issue 7): kill rate and survivors, also in runs/mutation/.
# Sample or narrow it with ARGS, e.g. make mutate ARGS="risk/rules/limits.py --limit 60".
mutate: $(STAMP)
	$(BIN)/python tests/mutation/run.py --jobs 2 $(ARGS)

# Re-pin the exact dependency set after changing pyproject.toml dependencies.
lock: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV)
