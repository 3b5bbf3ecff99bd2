"""Catalog write rate: our quote writer vs Nautilus's ``catalog.write_data``, on the same sample quotes.

Run: .venv/bin/python benchmarks/bench_catalog_write.py [--days 2] [--strikes 40]

The issue asks >= 200,000 quotes/s written. A 0DTE catalog holds one small file per option per session
(390 quotes at 1-minute), so per-file overhead, not encoding, decides the rate; the baseline writes the
same pre-built ``QuoteTick`` objects through ``ParquetDataCatalog.write_data`` one instrument-day at a time
(the only layout a 0DTE catalog can have: an option lives one session).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from odte_nautilus.data import catalog_io
from odte_nautilus.data.sample import SampleConfig, build_sample, sample_sessions


def _rate(quotes: int, seconds: float) -> str:
    return f"{quotes / seconds:>12,.0f} quotes/s  ({quotes:,} quotes in {seconds:.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--strikes", type=int, default=40)
    args = parser.parse_args()
    config = replace(SampleConfig(), days=args.days, strikes_each_side=args.strikes)
    sessions = list(sample_sessions(config))
    series = [s.quotes[o.id.value] for s in sessions for o in s.options]
    total = sum(len(q) for q in series)
    work = Path(tempfile.mkdtemp(prefix="odte-bench-"))
    try:
        started = time.perf_counter()
        catalog_io.write_files([catalog_io.quotes_file(work / "ours", q, 2) for q in series])
        ours = time.perf_counter() - started

        prebuilt = [
            QuoteTick.from_raw_arrays_to_list(
                InstrumentId.from_str(q.instrument_id),
                2,
                0,
                q.bid,
                q.ask,
                q.bid_size,
                q.ask_size,
                q.ts,
                q.ts + np.uint64(catalog_io.QUOTE_INIT_DELAY_NS),
            )
            for q in series
        ]
        catalog = ParquetDataCatalog(str(work / "theirs"))
        started = time.perf_counter()
        for ticks in prebuilt:
            catalog.write_data(ticks)
        theirs = time.perf_counter() - started

        started = time.perf_counter()
        report = build_sample(work / "sample", config)
        whole = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{len(sessions)} sessions x {2 * (2 * args.strikes + 1)} options, 1-minute quotes")
    print(f"odte catalog_io quote writer : {_rate(total, ours)}")
    print(f"catalog.write_data (baseline): {_rate(total, theirs)}  [pre-built QuoteTicks, one call per instrument-day]")
    print(f"odte catalog sample, end to end (model, prices, checks, all files, greeks): {_rate(report.quotes, whole)}")


if __name__ == "__main__":
    main()
