"""Checking a catalog on disk: every session through the schema checks, with a cache of those that passed.

``checks`` judges one session in memory and knows nothing of files; ``catalog_io`` reads and writes the
catalog (and refuses a session on a day the exchange is closed with the checks' ``OutsideSessionError``).
This module joins the two: ``validate_catalog`` runs the checks on what ``catalog_io`` reads at every
backtest load, and ``record_passed`` notes a session the sample or an importer just checked and wrote, in
``<catalog>/odte/checked.json`` with a fingerprint of its files, so the next load need not re-read it.
A session that passed also gets its option definitions in one file (``sidecar.write_definitions``), its
digest beside the fingerprint: a backtest reads that one file instead of the session's 162.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nautilus_trader.model.instruments import OptionContract

from odte_nautilus.data import catalog_io, sidecar
from odte_nautilus.data.bundle import SessionData
from odte_nautilus.data.checks import check_session


@dataclass(frozen=True, slots=True)
class CatalogCheck:
    sessions: int
    options: int
    quotes: int
    reread: int  # sessions read and checked this time (the others were unchanged since they passed)
    definitions: dict[str, str] = field(default_factory=dict)  # checked_key -> digest of its definitions file


def validate_catalog(
    path: str | Path, parts: list[catalog_io.CatalogSession] | None = None, use_cache: bool = True
) -> CatalogCheck:
    """Run every check on every session of an on-disk catalog (or on ``parts``); raise the first failure.

    Call it at every backtest load, on the sessions the backtest replays: a catalog may have been written
    by another tool or edited by hand. A session whose files (names, sizes, modification times) are
    unchanged since it last passed is not re-read (``<catalog>/odte/checked.json``); ``use_cache=False``
    re-reads everything.
    """
    checked = sidecar.read_checked(path) if use_cache else {}
    sessions = options = quotes = reread = indexed = 0
    digests = {}
    for part in catalog_io.catalog_sessions(path) if parts is None else parts:
        key = checked_key(part)
        stamp = catalog_io.fingerprint(path, part)
        record = checked.get(key)
        if record is None or record["fingerprint"] != stamp:
            data = catalog_io.read_session(path, part)
            check_session(data)
            record = {"fingerprint": stamp, "options": len(data.options), "quotes": data.quote_count}
            checked[key] = record
            reread += 1
        if "definitions" not in record:  # passed before the definitions file existed, or just re-read
            table = catalog_io.read_instrument_table(path, OptionContract, list(part.instrument_ids))
            name, day = part.spec.name, part.session.trading_date
            record["definitions"] = None if table is None else sidecar.write_definitions(path, name, day, table)
            indexed += 1
        digests[key] = record["definitions"]
        sessions += 1
        options += record["options"]
        quotes += record["quotes"]
    if reread or indexed:
        sidecar.write_checked(path, checked)
    return CatalogCheck(sessions, options, quotes, reread, digests)


def record_passed(path: str | Path, data: SessionData) -> None:
    """Note that a session just written passed ``check_session`` (the next load need not re-read it)."""
    record_entries(path, [passed_entry(path, data)])


def passed_entry(path: str | Path, data: SessionData) -> tuple[str, dict]:
    """The ``checked.json`` entry of a session just written that passed ``check_session``: made where the
    session was written (a sample's worker process), recorded by ``record_entries`` in one process."""
    part = catalog_io.written_part(data)
    entry = {
        "fingerprint": catalog_io.fingerprint(path, part),
        "options": len(data.options),
        "quotes": data.quote_count,
        "definitions": sidecar.definitions_digest(path, data.spec.name, data.session.trading_date),
    }
    return checked_key(part), entry


def record_entries(path: str | Path, entries: list[tuple[str, dict]]) -> None:
    checked = sidecar.read_checked(path)
    checked.update(entries)
    sidecar.write_checked(path, checked)


def checked_key(part: catalog_io.CatalogSession) -> str:
    return f"{part.spec.name} {part.session.trading_date.isoformat()}"
