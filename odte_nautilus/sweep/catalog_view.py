"""A run's catalog: the files of the sessions in its date range, and nothing else, as symbolic links.

Why: the backtest runner's catalog work grows with the whole catalog, not with the run. At set-up it checks
every session and loads every option definition of the catalog, and each day's read lists every
instrument folder of the catalog before picking that day's. Over a 252-session, +-40-strike catalog a
3-day run spent about a minute in set-up and 4 s a day in reads (``benchmarks/bench_sweep.py`` measures
it). A sweep cuts a year into parts; with each part reading a view of its own sessions, a run costs what
its days cost.

A view holds exactly what a session's checks read (``catalog_io.session_files``: its options' quotes and
definitions, its index bars, the underlying), the session's sidecar days (open interest, greeks), the
manifest, and a copy of ``checked.json``: the links keep the files' sizes and times, so the fingerprints
match and ``validate_catalog`` does not re-read a session the catalog already passed. The run reads the
same bytes it would read from the catalog; ``tests/sweep/test_catalog_view.py`` holds that the results
are the same.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from odte_nautilus.data import sidecar
from odte_nautilus.data.catalog_io import catalog_sessions, session_files

VIEWS_DIR = "catalogs"  # <out>/catalogs/<start>_<end>/
SIDECAR_DAYS = ("open_interest", "greeks")


def view_path(out: Path, start: date, end: date) -> Path:
    return out / VIEWS_DIR / f"{start.isoformat()}_{end.isoformat()}"


def build_views(catalog: Path, ranges: Iterable[tuple[date, date]], out: Path) -> dict[tuple[date, date], Path]:
    """A view of ``catalog`` under ``out`` for each (first, last session) range; one scan of the catalog.

    A view already built is reused (it is renamed into place only when whole).
    """
    catalog = catalog.resolve()
    wanted = {r: view_path(out, *r) for r in ranges}
    missing = [r for r, view in wanted.items() if not view.is_dir()]
    sessions = catalog_sessions(catalog) if missing else []
    checked = sidecar.read_checked(catalog)
    for start, end in missing:
        files = {catalog / sidecar.SIDE_DIR / sidecar.MANIFEST}
        for session in sessions:
            day = session.session.trading_date
            if start <= day <= end:
                files.update(session_files(catalog, session))
                files.update(catalog / sidecar.SIDE_DIR / kind / f"{day.isoformat()}.parquet" for kind in SIDECAR_DAYS)
        _link(catalog, sorted(f for f in files if f.is_file()), wanted[(start, end)], checked)
    return wanted


def _link(catalog: Path, files: list[Path], view: Path, checked: dict[str, dict]) -> None:
    part = view.with_name(view.name + ".part")  # renamed when whole: a view is never seen half built
    if part.exists():
        shutil.rmtree(part)
    for source in files:
        link = part / source.relative_to(catalog)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
    (part / sidecar.SIDE_DIR).mkdir(parents=True, exist_ok=True)
    sidecar.write_checked(part, checked)
    part.rename(view)
