"""A backtest lists, checks and reads its own date range, never the rest of the catalog (docs/decisions/0010).

Before, ``run_backtest`` checked every session of the catalog and loaded every option definition at set-up,
so a month of a year-long catalog paid for the year. A file of another session is now never opened: a
damaged one outside the range changes nothing, inside the range it is refused.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from nautilus_trader.model.data import QuoteTick

from odte_nautilus import backtest
from odte_nautilus.backtest import DEFAULT_CONFIG, load_backtest_config, run_backtest
from odte_nautilus.data.catalog_io import catalog_sessions, data_dir
from odte_nautilus.data.sample import SampleConfig, build_sample

FIRST, SECOND = date(2024, 7, 22), date(2024, 7, 23)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("scope") / "catalog"
    build_sample(path, SampleConfig(days=2, strikes_each_side=6))
    return path


def _run(catalog, day, folder):
    return run_backtest(load_backtest_config(DEFAULT_CONFIG, catalog=catalog, start=day, end=day), folder)


def test_a_damaged_session_outside_the_range_is_never_opened_and_inside_it_is_refused(catalog, tmp_path):
    before = _run(catalog, FIRST, tmp_path / "before")
    [second] = catalog_sessions(catalog, SECOND, SECOND)
    [damaged] = list(data_dir(catalog, QuoteTick, second.instrument_ids[0]).glob("*.parquet"))
    damaged.write_bytes(b"not a parquet file")

    after = _run(catalog, FIRST, tmp_path / "after")
    assert after.days == 1 and after.quotes == before.quotes
    assert after.summary["strategies"] == before.summary["strategies"] and after.summary["audit"]["ok"]
    with pytest.raises(pa.ArrowInvalid):
        _run(catalog, SECOND, tmp_path / "second")


def test_quotes_beyond_the_strategies_reach_change_nothing(tmp_path, monkeypatch):
    """The strategies' reach (data/feed.py) leaves out most of a +-40-strike day; every run file is the same."""
    wide = tmp_path / "wide"
    build_sample(wide, SampleConfig(days=2, strikes_each_side=40))
    near = _run(wide, SECOND, tmp_path / "near")
    monkeypatch.setattr(backtest, "strike_reach", lambda strategies: None)
    every = _run(wide, SECOND, tmp_path / "every")
    assert near.quotes < every.quotes / 2
    assert near.summary["strategies"][-1]["trades"] > 0, "no trade: this proves nothing"
    for name in ("fills.csv", "positions.csv", "decisions.jsonl"):
        assert (near.run_dir / name).read_bytes() == (every.run_dir / name).read_bytes(), name
