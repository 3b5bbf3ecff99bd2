"""Files next to the catalog that Nautilus does not read but the project does, under ``<catalog>/odte/``.

- ``open_interest/<date>.parquet``: start-of-day open interest per option id (the GEX signal needs it);
- ``greeks/<date>.parquet``: IV and greeks every 5 minutes (``greeks.COLUMNS``), fractional-day time;
- ``manifest.json``: how the catalog was built (deterministic: no build times);
- ``checked.json``: sessions that passed the schema checks, with a fingerprint of their files (a cache,
  not data: it holds file times);
- ``definitions/<underlying>_<date>.parquet``: a session's option definitions in one file, written when the
  session passed its checks, its SHA-256 kept in ``checked.json`` (a cache: a backtest reads a day's 162
  definitions from one file instead of 162, and falls back to the catalog's files when the digest differs).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from odte_nautilus.data.greeks import SCHEMA as GREEKS_SCHEMA

if TYPE_CHECKING:
    import pandas as pd

SIDE_DIR = "odte"
MANIFEST = "manifest.json"
CHECKED = "checked.json"


def _path(root: str | Path, *parts: str) -> Path:
    return Path(root, SIDE_DIR, *parts)


def _write_day(table: pa.Table, root: str | Path, kind: str, day: date) -> None:
    path = _path(root, kind, f"{day.isoformat()}.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, str(path))


def _read_day(root: str | Path, kind: str, day: date) -> pa.Table | None:
    path = _path(root, kind, f"{day.isoformat()}.parquet")
    return pq.ParquetFile(str(path)).read() if path.exists() else None


def write_open_interest(root: str | Path, day: date, open_interest: dict[str, int]) -> None:
    ids = sorted(open_interest)
    table = pa.table({"instrument_id": ids, "open_interest": pa.array([open_interest[i] for i in ids], pa.int64())})
    _write_day(table, root, "open_interest", day)


def load_open_interest(root: str | Path, day: date) -> dict[str, int]:
    """Start-of-day open interest per option id for ``day`` (empty when the source had none)."""
    table = _read_day(root, "open_interest", day)
    if table is None:
        return {}
    return dict(zip(table.column("instrument_id").to_pylist(), table.column("open_interest").to_pylist(), strict=True))


def write_greeks(root: str | Path, day: date, table: pa.Table) -> None:
    _write_day(table, root, "greeks", day)


def load_greeks(root: str | Path, day: date) -> pd.DataFrame:
    """The session's per-5-minute IV and greeks (``greeks.COLUMNS``) as a pandas DataFrame; empty if none."""
    table = _read_day(root, "greeks", day)
    return (table if table is not None else GREEKS_SCHEMA.empty_table()).to_pandas()


def write_definitions(root: str | Path, underlying: str, day: date, table: pa.Table) -> str:
    """Write a session's definitions table (renamed into place); return the SHA-256 of its bytes."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    data = buffer.getvalue().to_pybytes()
    path = _definitions_path(root, underlying, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_bytes(data)
    os.replace(aside, path)
    return hashlib.sha256(data).hexdigest()


def read_definitions(root: str | Path, underlying: str, day: date, digest: str) -> pa.Table | None:
    """The session's definitions table if its file's bytes have ``digest``; ``None`` otherwise."""
    data = _definitions_bytes(root, underlying, day)
    return pq.read_table(pa.BufferReader(data)) if data and hashlib.sha256(data).hexdigest() == digest else None


def definitions_digest(root: str | Path, underlying: str, day: date) -> str | None:
    """The SHA-256 of the session's definitions file as it is now (``None`` when there is none)."""
    data = _definitions_bytes(root, underlying, day)
    return None if data is None else hashlib.sha256(data).hexdigest()


def _definitions_bytes(root: str | Path, underlying: str, day: date) -> bytes | None:
    try:
        return _definitions_path(root, underlying, day).read_bytes()
    except FileNotFoundError:
        return None


def _definitions_path(root: str | Path, underlying: str, day: date) -> Path:
    return _path(root, "definitions", f"{underlying}_{day.isoformat()}.parquet")


def _read_json(root: str | Path, name: str) -> dict:
    path = _path(root, name)
    return json.loads(path.read_text()) if path.exists() else {}


def _write_json(root: str | Path, name: str, content: dict) -> None:
    """Written aside and renamed into place: a sweep's runs read the catalog's files while one writes them."""
    path = _path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(aside, path)


def read_manifest(root: str | Path) -> dict:
    return _read_json(root, MANIFEST)


def write_manifest(root: str | Path, manifest: dict) -> None:
    _write_json(root, MANIFEST, manifest)


def read_checked(root: str | Path) -> dict[str, dict]:
    return _read_json(root, CHECKED)


def write_checked(root: str | Path, checked: dict[str, dict]) -> None:
    _write_json(root, CHECKED, checked)
