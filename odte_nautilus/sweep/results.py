"""The sweep's table: one row per run, its parameters beside its figures, as parquet and CSV.

A row is built from the run folder's own files (``sweep_run.json``, what the run was and how it went, and
``summary.json``, the backtest's figures), so a row read back on resume is the row the run first gave.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from odte_nautilus.reports.summary import TOTAL

RUNS_DIR = "runs"  # <out>/runs/<key>/: one backtest run folder per run
RECORD_FILE = "sweep_run.json"  # in a run folder: its parameters and dates, then its status, time and memory
ERROR_FILE = "error.txt"  # in a failed run's folder: the traceback
SUMMARY_FILE = "summary.json"
TABLE_PARQUET = "sweep.parquet"
TABLE_CSV = "sweep.csv"

OK, FAILED, AUDIT_FAILED, NOT_RUN = "ok", "failed", "audit failed", "not run"
METRICS = ("trades", "pnl", "max_drawdown", "win_rate", "fees", "audit_ok")
COLUMNS_BEFORE = ("run", "index", "status", "error")
COLUMNS_AFTER = (
    *("start", "end", "days", "part", "quotes", *METRICS),
    *("risk_off_from", "wall_s", "peak_rss_mb", "run_dir"),
)


def run_dir(out: Path, key: str) -> Path:
    return out / RUNS_DIR / key


def finished(out: Path, key: str) -> bool:
    """A run is finished when its backtest wrote ``summary.json`` (audit passed or not): it is not redone."""
    return (run_dir(out, key) / SUMMARY_FILE).is_file()


def read_record(folder: Path) -> dict[str, Any]:
    return json.loads((folder / RECORD_FILE).read_text())


def write_record(folder: Path, record: dict[str, Any]) -> None:
    """Write ``sweep_run.json`` whole or not at all (a rename), so that a crash never leaves half of it."""
    part = folder / (RECORD_FILE + ".part")
    part.write_text(json.dumps(record, indent=2, default=str) + "\n")
    part.replace(folder / RECORD_FILE)


def row(out: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The table row of a run from its record and, when it wrote one, its ``summary.json``."""
    folder = run_dir(out, record["key"])
    summary_path = folder / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    status = record.get("status", NOT_RUN)
    if summary is not None:  # the backtest finished: the audit decides, whatever the record says
        status = OK if summary["audit"]["ok"] else AUDIT_FAILED
    out_row: dict[str, Any] = {
        "run": record["key"],
        "index": record["index"],
        "status": status,
        "error": record.get("error") if status != OK else None,
        **{f"param {k}": v for k, v in record["params"].items()},
        "start": record["start"],
        "end": record["end"],
        "days": record["days"],
        "part": record.get("part"),
        "quotes": record.get("quotes"),
        "risk_off_from": record.get("risk_off_from"),
        "wall_s": record.get("wall_s"),
        "peak_rss_mb": record.get("peak_rss_mb"),
        "run_dir": str(folder.relative_to(out)),
    }
    if summary is not None:
        total = next(r for r in summary["strategies"] if r["strategy"] == TOTAL)
        out_row.update(
            trades=total["trades"],
            pnl=total["pnl"],
            max_drawdown=total["max_drawdown"],
            win_rate=total["win_rate"],
            fees=summary.get("fees", {}).get("total_paid"),
            audit_ok=bool(summary["audit"]["ok"]),
        )
        for r in summary["strategies"]:
            if r["strategy"] != TOTAL:
                out_row[f"trades {r['strategy']}"] = r["trades"]
                out_row[f"pnl {r['strategy']}"] = r["pnl"]
    return out_row


def table(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows in run order; parameters (``param <key>``) after the status, per-strategy figures last."""
    frame = pd.DataFrame(list(rows))
    for column in (*COLUMNS_BEFORE, *COLUMNS_AFTER):
        if column not in frame.columns:
            frame[column] = None
    params = [c for c in frame.columns if c.startswith("param ")]
    known = {*COLUMNS_BEFORE, *COLUMNS_AFTER, *params}
    per_strategy = sorted(c for c in frame.columns if c not in known)
    frame = frame[[*COLUMNS_BEFORE, *params, *COLUMNS_AFTER, *per_strategy]]
    for column in params:  # a list or a mix of types cannot be a parquet column: its JSON text is shown
        if not all(_plain_number(v) for v in frame[column]) and not all(isinstance(v, str) for v in frame[column]):
            frame[column] = [json.dumps(v) if not isinstance(v, str) else v for v in frame[column]]
    return frame.sort_values("index", kind="stable").reset_index(drop=True)


def write_table(frame: pd.DataFrame, out: Path) -> tuple[Path, Path]:
    parquet, csv = out / TABLE_PARQUET, out / TABLE_CSV
    frame.to_parquet(parquet, index=False)
    frame.to_csv(csv, index=False)
    return parquet, csv


def read_table(out: str | Path) -> pd.DataFrame:
    """The table of a sweep's output folder (``sweep.parquet``)."""
    return pd.read_parquet(Path(out) / TABLE_PARQUET)


def parameter_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("param ")]


def _plain_number(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return value is None
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isinf(value))
