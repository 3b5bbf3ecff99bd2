"""One run of a sweep, in a worker process: ``odte backtest``'s own runner over the run's config.

The run folder gets the run's ``backtest.yaml`` (and ``risk_profile.yaml`` when a ``risk.*`` parameter changed
the profile), everything ``run_backtest`` writes, and ``sweep_run.json``: what the run was, then how it went
(status, error, seconds, peak resident memory after each day). A run's own failure is its row, never an
exception: the other runs of the sweep go on. Leftovers of an unfinished attempt are cleared first, so a
resumed run starts from nothing (its risk book included).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from odte_nautilus.backtest import load_backtest_config, run_backtest
from odte_nautilus.reports import AuditFailed
from odte_nautilus.reports.frames import DECISIONS_FILE
from odte_nautilus.risk.session import trading_date
from odte_nautilus.sweep.grid import RunSpec
from odte_nautilus.sweep.results import (
    AUDIT_FAILED,
    ERROR_FILE,
    FAILED,
    OK,
    RUNS_DIR,
    row,
    run_dir,
    write_record,
)

LOG_FILE = "run.log"
# (kind, run key, value): ("start", key, pid), ("day", key, "2024-07-22"); the runners carry them to the driver
Report = Callable[[str, str, Any], None]


def _ignore(kind: str, key: str, value: Any) -> None:
    pass


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ``ru_maxrss`` in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def record_of(spec: RunSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "index": spec.index,
        "params": spec.params,
        "start": spec.start.isoformat(),
        "end": spec.end.isoformat(),
        "days": spec.days,
        "part": spec.part,
        "status": "running",
    }


def execute(spec: RunSpec, out: str | Path, report: Report = _ignore) -> dict[str, Any]:
    """Run ``spec`` into ``<out>/runs/<key>/`` and return its table row."""
    out = Path(out)
    folder = run_dir(out, spec.key)
    if folder.exists():  # an unfinished attempt (a finished run is never handed to a worker)
        if folder.parent != out / RUNS_DIR or not spec.key.isalnum():
            raise ValueError(f"{folder}: not a run folder of the sweep in {out}; refusing to clear it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    report("start", spec.key, os.getpid())
    record = record_of(spec)
    write_record(folder, record)
    started = time.perf_counter()
    rss_by_day: list[float] = []

    def on_day(day: Any, _quotes: int) -> None:
        rss_by_day.append(peak_rss_mb())
        report("day", spec.key, str(day))

    log = logging.FileHandler(folder / LOG_FILE)  # the run's warnings stay in its folder, off the progress bar
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(log)
    try:
        result = run_backtest(load_backtest_config(write_configs(spec, folder)), folder, on_day=on_day)
        record.update(status=OK, quotes=result.quotes, risk_off_from=risk_off_from(folder))
    except AuditFailed as exc:
        record.update(status=AUDIT_FAILED, error=" ".join(str(exc).split()))
    except Exception as exc:  # one run's failure is reported with its traceback and never sinks the sweep
        record.update(status=FAILED, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        (folder / ERROR_FILE).write_text(traceback.format_exc())
    finally:
        logging.getLogger().removeHandler(log)
        log.close()
    record.update(wall_s=round(time.perf_counter() - started, 2), peak_rss_mb=peak_rss_mb(), rss_mb_by_day=rss_by_day)
    write_record(folder, record)
    return row(out, record)


def risk_off_from(folder: Path) -> str | None:
    """The trading day the run's global breaker tripped, if it did: it needs a person's reset, so in one
    continuous run nothing would trade after it. Beside a split's parts (each a fresh account) it shows
    which later parts a continuous run would never have traded (docs/decisions/0010)."""
    with (folder / DECISIONS_FILE).open() as journal:
        for line in journal:
            if '"breaker"' in line and (entry := json.loads(line)).get("breaker") == "global":
                return trading_date(entry["ts_ns"]).isoformat()
    return None


def write_configs(spec: RunSpec, folder: Path) -> Path:
    """The run's ``backtest.yaml`` (and its own ``risk_profile.yaml``), as run and kept beside its results."""
    backtest = dict(spec.backtest)
    if spec.risk is not None:
        profile = folder / "risk_profile.yaml"
        profile.write_text(yaml.safe_dump(spec.risk, sort_keys=False))
        backtest["risk_profile"] = str(profile.resolve())
    path = folder / "backtest.yaml"
    path.write_text(yaml.safe_dump(backtest, sort_keys=False))
    return path


def failed_row(spec: RunSpec, out: Path, error: str) -> dict[str, Any]:
    """The row of a run that could not report itself (its worker died); the reason kept in its folder."""
    folder = run_dir(out, spec.key)
    folder.mkdir(parents=True, exist_ok=True)
    record = record_of(spec) | {"status": FAILED, "error": error}
    write_record(folder, record)
    (folder / ERROR_FILE).write_text(error + "\n")
    return row(out, record)
