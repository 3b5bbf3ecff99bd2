"""The backtest's own session reader gives the engine exactly what Nautilus's catalog queries give it."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from odte_nautilus.data import sidecar
from odte_nautilus.data.catalog_check import checked_key, validate_catalog
from odte_nautilus.data.catalog_io import catalog_sessions
from odte_nautilus.data.feed import session_feed, within_reach
from odte_nautilus.data.instruments import load_option_instruments
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.time_units import MINUTE_NS

DAYS = (date(2024, 7, 22), date(2024, 7, 23), date(2024, 7, 24))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("feed") / "catalog"
    build_sample(path, SampleConfig(days=len(DAYS), strikes_each_side=6))
    return path


def _quote_fields(q) -> tuple:
    return (q.instrument_id.value, q.ts_event, q.ts_init, q.bid_price.raw, q.ask_price.raw, q.bid_size.raw,
            q.ask_size.raw, q.bid_price.precision, q.bid_size.precision)  # fmt: skip


def test_a_session_reads_what_the_catalog_queries_read(catalog):
    part = catalog_sessions(catalog)[1]
    ids = list(part.instrument_ids)
    start, end = part.session.open_ns - MINUTE_NS, part.session.close_ns
    nautilus = ParquetDataCatalog(str(catalog))
    feed = session_feed(catalog, part, start, end)

    expected = nautilus.quote_ticks(instrument_ids=ids, start=start, end=end)
    assert sorted(map(_quote_fields, feed.quotes)) == sorted(map(_quote_fields, expected))
    assert len(feed.quotes) == len(expected) > 0  # the 16:00 quotes (ts_init 1 ns past the close) left out alike
    assert feed.bars == nautilus.bars(bar_types=[part.spec.bar_type], start=start, end=end)
    assert [(b.ts_event, b.ts_init) for b in feed.bars] == [
        (b.ts_event, b.ts_init) for b in nautilus.bars(bar_types=[part.spec.bar_type], start=start, end=end)
    ]
    as_dicts = sorted((o.to_dict(o) for o in load_option_instruments(nautilus, ids)), key=lambda d: d["id"])
    assert sorted((o.to_dict(o) for o in feed.options), key=lambda d: d["id"]) == as_dicts
    assert all(o.tick_scheme_name for o in feed.options)


def test_a_date_range_lists_only_its_sessions_and_their_options(catalog):
    every = catalog_sessions(catalog)
    middle = catalog_sessions(catalog, DAYS[1], DAYS[1])
    assert [p.session.trading_date for p in every] == list(DAYS)
    assert middle == [every[1]]
    assert catalog_sessions(catalog, start=DAYS[1]) == every[1:]
    assert catalog_sessions(catalog, end=DAYS[0]) == every[:1]


def test_within_reach_keeps_every_strike_a_nearest_pick_can_land_on():
    ids = [f"SPXW  240722{right}0{strike * 1000:07d}.CBOE" for strike in range(5400, 5605, 5) for right in "CP"]
    kept = {parse_option_id(i).strike for i in within_reach(ids, low=5481.0, high=5517.0, reach=25.0)}
    assert kept == set(range(5455, 5550, 5))  # 5456 is bracketed from 5455 and 5542 to 5545, both kept
    assert len(within_reach(ids, low=5300.0, high=5700.0, reach=25.0)) == len(ids)  # past the chain's ends


def test_a_reach_reads_only_the_quotes_of_the_strikes_in_it(catalog):
    part = catalog_sessions(catalog)[0]
    start, end = part.session.open_ns - MINUTE_NS, part.session.close_ns
    every = session_feed(catalog, part, start, end)
    near = session_feed(catalog, part, start, end, reach=5.0)
    low, high = min(b.low.as_double() for b in every.bars), max(b.high.as_double() for b in every.bars)
    wanted = set(within_reach(list(part.instrument_ids), low, high, 5.0))
    assert {q.instrument_id.value for q in near.quotes} == wanted == near.quoted
    assert every.quoted == set(part.instrument_ids)
    kept = [_quote_fields(q) for q in every.quotes if q.instrument_id.value in wanted]
    assert [_quote_fields(q) for q in near.quotes] == kept
    assert len(near.options) == len(every.options)  # every definition: the chain and GEX list them all


def test_a_days_definitions_come_from_their_one_file_only_while_its_digest_holds(catalog):
    """Each session's definitions are kept in one file (1 read instead of 162), its digest recorded when the
    session passed; a changed file is never trusted: its digest differs and the session's own files are read."""
    part = catalog_sessions(catalog)[2]
    start, end = part.session.open_ns - MINUTE_NS, part.session.close_ns
    digest = validate_catalog(catalog).definitions[checked_key(part)]
    from_files = [o.to_dict(o) for o in session_feed(catalog, part, start, end).options]
    assert [o.to_dict(o) for o in session_feed(catalog, part, start, end, definitions=digest).options] == from_files
    [indexed] = (catalog / "odte" / "definitions").glob(f"*{part.session.trading_date.isoformat()}.parquet")
    damaged = pq.read_table(indexed).slice(1)  # one definition short, rewritten in place
    pq.write_table(damaged, indexed)
    assert sidecar.read_definitions(catalog, part.spec.name, part.session.trading_date, digest) is None
    assert [o.to_dict(o) for o in session_feed(catalog, part, start, end, definitions=digest).options] == from_files
