"""``odte catalog sample`` is deterministic, resumable, refuses to mix catalogs, and honours early closes."""

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from odte_nautilus.data import catalog_check, catalog_io
from odte_nautilus.data.sample import SampleConfig, SampleConflictError, build_sample, sample_sessions
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.risk.session import ny_ns
from odte_nautilus.risk.time_units import NS_PER_SECOND
from tests.data.helpers import EARLY_CLOSE_DAY, TINY


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.parquet"))
    }


def test_same_seed_gives_byte_identical_files(tmp_path, tiny_catalog):
    again = tmp_path / "again"
    build_sample(again, TINY)
    assert _digests(again) == _digests(tiny_catalog)
    assert (again / "odte" / "manifest.json").read_bytes() == (tiny_catalog / "odte" / "manifest.json").read_bytes()


def test_worker_processes_write_the_same_bytes_and_every_day_is_checked(tmp_path):
    """A year is written on every core (sample.py); the days land in any order, the files do not change."""
    config = replace(TINY, days=3)
    build_sample(tmp_path / "one", config, workers=1)
    landed: list[int] = []
    report = build_sample(tmp_path / "two", config, on_quotes=landed.append, workers=2)
    assert _digests(tmp_path / "two") == _digests(tmp_path / "one")
    assert report.written == 3 and len(landed) == 3 and sum(landed) == report.quotes
    checked = catalog_check.validate_catalog(tmp_path / "two")
    assert checked.sessions == 3 and checked.reread == 0  # each worker's checked.json entry was recorded
    assert all(checked.definitions.values()) and len(checked.definitions) == 3  # each day's definitions file


def test_another_seed_gives_another_market(session_data):
    other = next(sample_sessions(replace(TINY, seed=TINY.seed + 1)))
    assert not np.array_equal(other.checked_bars.close, session_data.checked_bars.close)


def test_fewer_days_are_a_prefix_and_adding_strikes_changes_no_quote(session_data):
    two = list(sample_sessions(replace(TINY, days=2, strikes_each_side=9)))
    assert two[0].session.trading_date == session_data.session.trading_date
    for iid, q in session_data.quotes.items():
        assert np.array_equal(two[0].quotes[iid].bid, q.bid) and np.array_equal(two[0].quotes[iid].ask, q.ask)


def test_rerun_fills_missing_sessions_and_refuses_another_config(tmp_path):
    path = tmp_path / "c"
    one = replace(TINY, strikes_each_side=6)
    assert build_sample(path, one).written == 1
    assert build_sample(path, replace(one, days=2)).written == 1  # only the new session
    assert build_sample(path, one).written == 0
    with pytest.raises(SampleConflictError, match="seed"):
        build_sample(path, replace(one, seed=99))


def test_refuses_a_folder_holding_other_market_data(tmp_path, session_data):
    catalog_io.write_session(tmp_path, session_data)
    with pytest.raises(SampleConflictError, match="not this sample"):
        build_sample(tmp_path, TINY)


def test_early_close_day_expires_and_stops_quoting_at_one(tmp_path):
    data = next(sample_sessions(SampleConfig(days=1, start=EARLY_CLOSE_DAY, strikes_each_side=6)))
    one_pm = ny_ns(EARLY_CLOSE_DAY, 13, 0)
    assert data.session.close_ns == one_pm and len(data.checked_bars) == 210
    assert {o.expiration_ns for o in data.options} == {one_pm}
    assert max(int(q.ts[-1]) for q in data.quotes.values()) == one_pm


def test_one_second_quotes(tmp_path):
    config = SampleConfig(days=1, freq="1s", strikes_each_side=6)
    data = next(sample_sessions(config))
    q = next(iter(data.quotes.values()))
    assert len(q) == 23_400 and np.all(np.diff(q.ts.astype(np.int64)) == NS_PER_SECOND)
    minute = next(sample_sessions(replace(config, freq="1m")))
    assert np.array_equal(minute.checked_bars.close, data.checked_bars.close)  # the same market, sampled more often


def test_option_ids_expire_on_their_session(session_data):
    assert {parse_option_id(o.id.value).expiry for o in session_data.options} == {session_data.session.trading_date}
    assert session_data.session.trading_date == date(2024, 7, 22)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="--freq"):
        SampleConfig(freq="5m")
    with pytest.raises(ValueError, match="unknown underlying"):
        SampleConfig(underlying="NDX")
