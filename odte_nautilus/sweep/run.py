"""A sweep from start to table: expand the runs, skip the finished ones, run the rest, gather and render.

The table and the comparison page are written whatever happens to the runs, after an interrupt too, with a
row for every run of the sweep (``not run`` for those it did not reach), so the output folder always says
where the sweep stands; rerunning the same command picks up from there. Each run reads the catalog itself:
``run_backtest`` lists, checks and reads only its own date range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from odte_nautilus.sweep.config import Sweep
from odte_nautilus.sweep.execute import record_of
from odte_nautilus.sweep.grid import Expansion, RunSpec, expand
from odte_nautilus.sweep.html import write_comparison
from odte_nautilus.sweep.results import NOT_RUN, finished, read_record, row, run_dir, table, write_table
from odte_nautilus.sweep.runner import OnEvent, Runner

PLAN_FILE = "sweep.json"


@dataclass(frozen=True)
class Plan:
    """The sweep's runs, and which of them an earlier attempt already finished."""

    expansion: Expansion
    done: list[RunSpec]
    todo: list[RunSpec]


@dataclass(frozen=True)
class SweepOutcome:
    out: Path
    table: pd.DataFrame
    files: tuple[Path, ...]  # sweep.parquet, sweep.csv, sweep.html
    resumed: int  # runs an earlier attempt had finished (not redone)


def plan(sweep: Sweep, out: Path) -> Plan:
    expansion = expand(sweep)
    done = [s for s in expansion.runs if finished(out, s.key)]
    return Plan(expansion, done, [s for s in expansion.runs if not finished(out, s.key)])


def run_sweep(
    sweep: Sweep, out: str | Path, runner: Runner, on_event: OnEvent | None = None, planned: Plan | None = None
) -> SweepOutcome:
    """Run every run of ``sweep`` not already finished in ``out`` on ``runner``; write the table and the page."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    planned = planned or plan(sweep, out)
    _write_plan(sweep, out, planned.expansion.runs)
    rows: dict[str, dict[str, Any]] = {s.key: row(out, read_record(run_dir(out, s.key))) for s in planned.done}

    def on_run_event(kind: str, key: str, value: Any) -> None:
        if kind == "done":
            rows[key] = value
        if on_event is not None:
            on_event(kind, key, value)

    try:
        if planned.todo:
            runner.run(planned.todo, out, on_run_event)
    finally:
        files = gather(sweep, out, planned.expansion.runs, rows)
    return SweepOutcome(out, pd.read_parquet(files[0]), files, len(planned.done))


def gather(sweep: Sweep, out: Path, specs: list[RunSpec], rows: dict[str, dict[str, Any]]) -> tuple[Path, ...]:
    """Write ``sweep.parquet``, ``sweep.csv`` and ``sweep.html``: one row per run, in sweep order."""
    frame = table(rows.get(s.key) or row(out, record_of(s) | {"status": NOT_RUN}) for s in specs)
    parquet, csv = write_table(frame, out)
    return parquet, csv, write_comparison(frame, out, title=sweep.path.name)


def _write_plan(sweep: Sweep, out: Path, specs: list[RunSpec]) -> None:
    """``sweep.json``: the sweep config as read and every run's key, parameters and dates."""
    plan_doc = {
        "config": str(sweep.path),
        "sweep": sweep.config.model_dump(mode="json"),
        "runs": [record_of(s) | {"status": None} for s in specs],
    }
    (out / PLAN_FILE).write_text(json.dumps(plan_doc, indent=2, default=str) + "\n")
