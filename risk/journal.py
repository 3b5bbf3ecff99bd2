"""The audit journal: one JSON line per risk decision or control event (design §4).

Seed 000: "a risk kernel that returns allowed + reason so a refused entry carries its own audit trail".
This module is the one place that trail is written. Each line is a self-contained JSON object with the
event ``kind`` ("decision", "reset", "kill_switch", ...), the time as ISO-8601 UTC and as ``ts_ns``.

Every line is written with a single ``write`` and flushed at once, so a crash or a SIGKILL loses at most
the line being written (the OS has everything flushed before it); power loss is outside what a flush
covers. A line cut short by a crash is never glued to the next record: reopening a journal that does not
end in a newline closes the fragment's line and writes a ``journal_recovered`` marker, and :func:`read`
skips such a fragment (with a warning) but refuses any other damaged line.

Numbers that JSON cannot carry (the ``inf`` open risk of a naked short that the kernel refused) are written
as the strings ``"inf"``, ``"-inf"`` and ``"nan"``, never as invalid JSON.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.model import Intent
from odte_nautilus.risk.time_units import NS_PER_SECOND

log = logging.getLogger(__name__)

RECOVERED = "journal_recovered"


class JournalError(ValueError):
    """A journal line that cannot be read; the message names the file and the line."""

    def __init__(self, path: Path, line: int, detail: str) -> None:
        super().__init__(f"{path}:{line}: not a JSON journal line ({detail}); restore or remove the line")
        self.path, self.line, self.detail = path, line, detail


class AuditJournal:
    """Append-only JSON-lines journal; safe to share between threads.

    ``flush_each_line`` (a live node's journal) hands every line to the OS as it is written, so a crash
    loses at most that line; a backtest's journal is a report, written through a buffer and flushed on
    ``close``: a flush per line would be a system call on every order of the replay.
    """

    def __init__(self, path: str | os.PathLike[str], flush_each_line: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._flush = flush_each_line
        buffering = 1 if flush_each_line else -1  # line-buffered, or the default buffer
        # The journal holds its file open for its whole life (close() closes it), so no with-block.
        self._file: TextIO = open(self.path, "a+", encoding="utf-8", buffering=buffering)  # noqa: SIM115
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        if self._file.tell() > 0 and not _ends_with_newline(self.path):
            # The last write was cut short by a crash: close its line and say so, so that read() can tell
            # this from damage done later and the next record is not glued to the fragment.
            self._file.write("\n")
            self.append(RECOVERED, note="the previous line was cut short by a crash")

    def record(
        self, intent: Intent, decision: Decision, ts_ns: int | None = None, source: str = "strategy"
    ) -> dict[str, Any]:
        """Journal a kernel decision on an intent (at the intent's time unless ``ts_ns`` is given).

        ``source`` says who asked: a strategy before building its order, or the engine gate for an order
        command (a manual order, ``close_all_positions``, or a strategy's order on its way out).
        """
        return self.append(
            "decision",
            ts_ns=intent.ts_ns if ts_ns is None else ts_ns,
            source=source,
            strategy=intent.strategy_id,
            intent=intent_summary(intent),
            decision=decision.to_dict(),
        )

    def append(self, kind: str, ts_ns: int | None = None, **fields: Any) -> dict[str, Any]:
        """Journal any event (``kind`` e.g. "reset", "kill_switch"); returns the record as written."""
        if not kind:
            raise ValueError("a journal event needs a kind (e.g. 'decision', 'reset', 'kill_switch')")
        if "time" in fields:
            raise ValueError("'time' is written by the journal from ts_ns; pass ts_ns instead")
        ts = time.time_ns() if ts_ns is None else int(ts_ns)
        record = {"kind": kind, "time": iso_utc(ts), "ts_ns": ts, **fields}
        try:
            line = json.dumps(record, allow_nan=False, default=str)
        except ValueError:  # a non-finite float somewhere: spell it out rather than write invalid JSON
            record = _finite(record)
            line = json.dumps(record, allow_nan=False, default=str)
        with self._lock:
            self._file.write(line + "\n")
            if self._flush:
                self._file.flush()
        for listener in self._listeners:
            try:
                listener(record)
            except Exception:  # a listener (the alerts) must never stop the journal or the caller
                log.exception("journal listener %r failed on a %s record", listener, kind)
        return record

    def on_append(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener`` with every record once it is written (the live node's alerts subscribe here).

        It runs on the appending thread, the node's event loop: it must only hand the record on (a queue),
        never wait on the network. An exception in it is logged and swallowed: the line is already written.
        """
        self._listeners.append(listener)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> AuditJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def intent_summary(intent: Intent) -> dict[str, Any]:
    """What an auditor needs to know about an intent, legs spelled ``instrument:ratio``."""
    return {
        "kind": intent.kind.value,
        "package": intent.package_id,
        "symbol": intent.symbol,
        "qty": intent.quantity,
        "price": intent.price,
        "legs": [f"{leg.contract.instrument_id}:{leg.ratio}" for leg in intent.legs],
        "exit_kind": intent.exit_kind.value if intent.exit_kind is not None else None,
        "open_risk": intent.open_risk,
    }


def iso_utc(ts_ns: int) -> str:
    """ISO-8601 UTC to the nanosecond, computed from integers (no float rounding).

    Nanoseconds, because the engine orders events by them: an option quote is stamped 1 ns after the index
    bar of its minute, and the fill check can tell a fill on that quote from one before it only at that grain.
    """
    seconds, ns = divmod(ts_ns, NS_PER_SECOND)
    return f"{_utc_second(seconds)}.{ns:09d}Z"


@lru_cache(maxsize=1024)
def _utc_second(seconds: int) -> str:
    """The date and time of a whole second: every journal line formats one, most of them the same."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def read(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the journal's records in order; a damaged line raises :class:`JournalError`.

    The one damage tolerated (with a warning) is a line cut short by a crash: the last line of the file
    without its newline, or a line followed by the ``journal_recovered`` marker written on reopening.
    """
    path = Path(path)
    cut: tuple[int, str] | None = None  # an unparsable line waiting to see whether a recovery marker follows
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("a journal line is a JSON object")
            except ValueError as exc:
                if cut is not None:
                    break
                cut = (number, str(exc))
                if not raw.endswith("\n"):
                    log.warning("%s:%d: skipping the last journal line, cut short by a crash", path, number)
                    return
                continue
            if cut is not None:
                if record.get("kind") != RECOVERED:
                    break
                log.warning("%s:%d: skipping a journal line cut short by a crash", path, cut[0])
                cut = None
            yield record
    if cut is not None:
        raise JournalError(path, *cut)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
