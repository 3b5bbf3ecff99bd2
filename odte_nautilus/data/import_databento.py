"""``odte catalog import databento``: OPRA definition and quote files through Nautilus's Databento loader.

Quote schemas: ``cbbo-1s``, ``cbbo-1m``, ``tcbbo``, ``mbp-1`` (and ``bbo-*``); the schema of each file is
read from its metadata, so files can be passed in any order. The underlying comes from a file of its own
(``--index``: CSV or a DBIX.CORE ``ohlcv-1m`` DBN file).

The loader's known traps (docs/market-facts.md, "Nautilus loader traps", verified on 1.231.0), fixed here:

- multiplier 1: Nautilus reads ``unit_of_measure_qty`` (undefined on real OPRA) -> 100 for our roots; any
  *other* value is kept, so the checks refuse it;
- asset class EQUITY for SPX/SPXW -> INDEX, and ``underlying`` -> the IB index symbol ``^SPX``;
- padded OCC ids at the publisher's venue (``SPXW  240315C05100000.XCBO``) -> the project's ids;
- expiry: the loader puts every OPRA expiry at 16:00 New York -> the session close for PM-settled roots
  (13:00 on early closes) and 09:30 for AM-settled SPX monthlies (``UnderlyingSpec.expiration_ns``);
- no tick scheme -> the $0.05/$0.10 SPXW scheme is attached (``instruments.option_contract``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from nautilus_trader.adapters.databento.constants import PUBLISHERS_FILEPATH
from nautilus_trader.adapters.databento.loaders import DatabentoDataLoader
from nautilus_trader.core import nautilus_pyo3
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.instruments import OptionContract

from odte_nautilus.data.checks import MissingDefinitionError
from odte_nautilus.data.importing import ImportReport, assemble_sessions, read_underlying_file, write_checked_sessions
from odte_nautilus.data.symbology import SymbologyError, parse_occ
from odte_nautilus.data.underlyings import UnderlyingSpec, underlying_spec

DEFINITION = "definition"
QUOTE_SCHEMAS = ("cbbo-1s", "cbbo-1m", "tcbbo", "mbp-1", "bbo-1s", "bbo-1m")
LOADER_TRAP_MULTIPLIER = 1


class DatabentoFileError(ValueError):
    """A DBN file this importer cannot use (wrong schema, unreadable)."""


def file_schema(path: Path) -> str:
    """The DBN schema of a file, from its metadata."""
    schema = nautilus_pyo3.DatabentoDataLoader(str(PUBLISHERS_FILEPATH)).schema_for_file(str(path))
    if schema is None:
        raise DatabentoFileError(f"{path}: mixed schemas in one file are not supported; split the file")
    return schema


def _definitions(loader: DatabentoDataLoader, paths: list[Path], spec: UnderlyingSpec) -> dict[str, int]:
    """Raw OCC symbol -> multiplier, with the loader's multiplier-1 trap fixed."""
    multipliers = {}
    for path in paths:
        for instrument in loader.from_dbn_file(path):
            if not isinstance(instrument, OptionContract):
                continue
            multiplier = int(instrument.multiplier)
            multipliers[instrument.raw_symbol.value] = (
                spec.multiplier if multiplier == LOADER_TRAP_MULTIPLIER else multiplier
            )
    return multipliers


def _quote_rows(
    loader: DatabentoDataLoader, paths: list[Path], multipliers: dict[str, int], spec: UnderlyingSpec
) -> pd.DataFrame:
    frames = []
    for index, path in enumerate(paths):
        # An explicit precision: a quote without a definition must reach our named error, not the loader's.
        loaded = loader.from_dbn_file(path, include_trades=True, price_precision=spec.ticks.price_precision)
        quotes = [q for q in loaded if isinstance(q, QuoteTick)]
        symbols = [q.instrument_id.symbol.value for q in quotes]
        keys = {}
        for record, symbol in enumerate(symbols, start=1):
            if symbol in keys:
                continue
            if symbol not in multipliers:
                raise MissingDefinitionError(
                    str(path), f"record {record} ({symbol})", "quoted but not in any definition file of this import"
                )
            try:
                keys[symbol] = parse_occ(symbol)
            except SymbologyError as exc:
                raise MissingDefinitionError(str(path), f"record {record}", str(exc)) from exc
        frames.append(
            pd.DataFrame(
                {
                    "root": [keys[s].root for s in symbols],
                    "expiry": [keys[s].expiry for s in symbols],
                    "right": [keys[s].right.value for s in symbols],
                    "strike": [keys[s].strike for s in symbols],
                    "ts": np.fromiter((q.ts_event for q in quotes), dtype=np.int64, count=len(quotes)),
                    "bid": [q.bid_price.as_double() for q in quotes],
                    "ask": [q.ask_price.as_double() for q in quotes],
                    "bid_size": [q.bid_size.as_double() for q in quotes],
                    "ask_size": [q.ask_size.as_double() for q in quotes],
                    "row": np.arange(1, len(quotes) + 1),
                    "file": index,
                    "multiplier": [multipliers[s] for s in symbols],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def import_databento(
    files: Sequence[str | Path],
    index_file: str | Path,
    path: str | Path,
    underlying: str = "SPX",
    roots: tuple[str, ...] | None = None,
    skip_non_0dte: bool = False,
    on_quotes: Callable[[int], object] | None = None,
) -> ImportReport:
    """Import OPRA definition + quote DBN files and the underlying's bars into the catalog at ``path``."""
    spec = underlying_spec(underlying)
    loader = DatabentoDataLoader()
    by_schema: dict[str, list[Path]] = {}
    for file in map(Path, files):
        by_schema.setdefault(file_schema(file), []).append(file)
    definitions = by_schema.pop(DEFINITION, [])
    quote_files = [f for schema in QUOTE_SCHEMAS for f in by_schema.pop(schema, [])]
    if by_schema:
        unsupported = sorted(str(f) for schema_files in by_schema.values() for f in schema_files)
        raise DatabentoFileError(
            f"unsupported schemas {sorted(by_schema)} in {unsupported}: "
            f"pass a definition file and quote files ({', '.join(QUOTE_SCHEMAS)})"
        )
    if not definitions or not quote_files:
        raise DatabentoFileError("pass at least one definition file and one quote file")
    multipliers = _definitions(loader, definitions, spec)
    rows = _quote_rows(loader, quote_files, multipliers, spec)
    sessions, report = assemble_sessions(
        spec,
        rows,
        tuple(map(str, quote_files)),
        read_underlying_file(index_file, spec),
        instruments_file=str(definitions[0]),
        roots=roots,
        skip_non_0dte=skip_non_0dte,
    )
    write_checked_sessions(path, sessions, on_quotes)
    return report
