"""``run_backtest`` end to end: configs/backtest.yaml's strategies over a one-day sample catalog, into a run folder.

The run folder is what a trader reads after ``odte backtest``; these tests read it back the way the reports
and the independent audit do, from the files alone (the engine is gone by then).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import pandas as pd
import pytest
from nautilus_trader.model.instruments import OptionContract

import odte_nautilus.backtest as backtest
from odte_nautilus.backtest import DEFAULT_CONFIG, load_backtest_config, run_backtest
from odte_nautilus.data.catalog_io import read_bars
from odte_nautilus.data.feed import session_feed
from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.data.underlyings import underlying_spec
from odte_nautilus.reports.fill_check import check_fills
from odte_nautilus.reports.frames import prepare_positions
from odte_nautilus.risk.journal import iso_utc
from odte_nautilus.risk.session import TradingCalendar
from odte_nautilus.runtime import runtime_for
from tests.kit import fly_entry, package_view

DECISIONS = "decisions.jsonl"
RUN_FILES = ("summary.json", "fills.csv", "positions.csv", "decisions.jsonl", "report.html")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest")
    build_sample(root / "catalog", SampleConfig(days=1, strikes_each_side=12))
    result = run_backtest(load_backtest_config(DEFAULT_CONFIG, catalog=root / "catalog"), root / "run")
    fills = pd.read_csv(result.run_dir / "fills.csv", keep_default_na=False)
    positions = pd.read_csv(result.run_dir / "positions.csv", keep_default_na=False)
    return result, fills, positions


def test_the_run_folder_has_every_file_and_the_audit_passed(run):
    result, _, positions = run
    assert all((result.run_dir / name).stat().st_size > 0 for name in RUN_FILES)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["audit"]["ok"] is True and summary["audit"]["violations"] == []
    assert summary["open_packages"] == 0
    assert result.days == 1 and result.quotes > 0
    assert len(positions) > 0, "the sample day traded nothing: this run proves nothing about fills"
    assert set(positions["strategy_id"]) <= {"ThetaHarvester-001", "GammaScalper-002"}


def test_no_contract_is_held_after_the_last_fill(run):
    """The engine's leg fills (entries, exits and expiry settlements) net to zero in every contract."""
    _, fills, _ = run
    net: dict[str, int] = defaultdict(int)
    for row in fills.itertuples():
        net[row.instrument_id] += row.quantity if row.side == "BUY" else -row.quantity
    assert {iid: qty for iid, qty in net.items() if qty} == {}


def test_every_package_row_has_entry_and_exit_leg_fills_with_its_exit_kinds(run):
    _, fills, positions = run
    assert set(fills["package_id"]) == set(positions["package_id"])
    legs = {"IRON_BUTTERFLY": 4, "STRANGLE": 2}
    for package in positions.itertuples():
        own = fills[fills["package_id"] == package.package_id]
        entries, exits = own[own["role"] == "entry"], own[own["role"] == "exit"]
        assert len(entries) + len(exits) == len(own), package.package_id  # no third role
        assert entries["instrument_id"].nunique() == legs[package.structure], package.package_id
        assert (entries["exit_kind"] == "").all()
        assert set(exits["exit_kind"]) == set(package.exit_kinds.split(";")), package.package_id
        # every contract bought or sold on entry went back out: quantities match leg by leg
        assert entries.groupby("instrument_id")["quantity"].sum().to_dict() == (
            exits.groupby("instrument_id")["quantity"].sum().to_dict()
        ), package.package_id


def test_every_allowed_entry_in_the_journal_is_a_package_row(run):
    result, _, positions = run
    lines = [json.loads(line) for line in (result.run_dir / "decisions.jsonl").read_text().splitlines()]
    entries = {
        d["intent"]["package"]
        for d in lines
        if d["kind"] == "decision" and d["intent"]["kind"] == "entry" and d["decision"]["allowed"]
    }
    assert entries == set(positions["package_id"])


def test_the_fees_block_states_the_schedule_and_adds_up_to_the_fills_to_the_cent(run):
    """Every leg fill paid the ib-spxw charge per contract; summary.json's total is fills.csv's, to the cent."""
    result, fills, _ = run
    fees = json.loads((result.run_dir / "summary.json").read_text())["fees"]
    assert fees["schedule"] == "ib-spxw" and fees["charged_per_contract"] == 1.28
    assert set(fees["per_contract_items"]) == {"commission", "exchange", "clearing", "orf", "finra_taf", "cat"}
    paying = fills[fills["exit_kind"] != "settlement"]
    assert (paying["fee"] == (paying["quantity"] * 1.28).round(2)).all()
    assert (fills.loc[fills["exit_kind"] == "settlement", "fee"] == 0).all()
    assert fees["total_paid"] == round(fills["fee"].sum(), 2) > 0
    assert fees["contracts"] == paying["quantity"].sum()
    for strategy, row in fees["by_strategy"].items():
        assert row["total_paid"] == round(fills.loc[fills["strategy_id"] == strategy, "fee"].sum(), 2), strategy
    assert sum(row["total_paid"] for row in fees["by_strategy"].values()) == pytest.approx(fees["total_paid"])
    assert result.summary["assumptions"]["fees"].startswith("ib-spxw (")
    assert "<h2>Fees</h2>" in (result.run_dir / "report.html").read_text()


def test_the_cost_split_explains_each_strategys_pnl_to_within_the_leg_rounding(run):
    """Realized P&L = market move - spread paid - fees, from the run's own fills; the residual is the leg
    prices' rounding to the cent (a few dollars at most), and every fill has the mid it was measured from."""
    result, fills, _ = run
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert (pd.to_numeric(fills["mid"]) >= 0).all() and (fills["mid"].astype(str) != "").all()
    for name, split in summary["cost_split"].items():
        explained = split["market_move"] - split["spread_paid"] - split["fees"]
        assert abs(split["realized_pnl"] - explained - split["residual"]) < 0.011, name
        assert abs(split["residual"]) <= 5.0, name
        assert split["spread_paid"] >= 0 and split["fees"] >= 0, name


def test_the_fill_check_ran_on_every_leg_and_found_nothing(run):
    """Issue 8, part 2: every leg inside its quote, on its grid, no stale quote, money to the cent."""
    result, fills, positions = run
    checked = json.loads((result.run_dir / "summary.json").read_text())["audit"]["checked"]
    traded = fills[fills["exit_kind"] != "settlement"]
    assert checked["traded_legs"] == len(traded) > 0
    assert checked["reconciled"] == len(positions)


def test_each_packages_money_in_fills_csv_is_its_pnl_in_positions_csv_to_the_cent(run):
    """Recomputed here from the files alone: the leg prices sum exactly to the package prices."""
    _, fills, positions = run
    sign = fills["side"].map({"SELL": 1.0, "BUY": -1.0})
    cash = (sign * fills["price"] * fills["quantity"] * 100 - fills["fee"]).groupby(fills["package_id"]).sum()
    for row in positions.itertuples():
        assert round(cash[row.package_id], 2) == round(row.realized_pnl, 2), row.package_id


def _findings(run, tamper) -> set[str]:
    """The fill check's rules broken by the run's own files after ``tamper(fills, positions)``."""
    result, fills, positions = run
    fills, positions = fills.copy(), positions.copy()
    tamper(fills, positions)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    pnl = {row["strategy"]: row["pnl"] for row in summary["strategies"]}
    catalog = result.run_dir.parent / "catalog"
    return {v.rule for v in check_fills(fills, prepare_positions(positions), catalog, pnl).violations}


def _first_traded(fills: pd.DataFrame) -> int:
    return int(fills.index[fills["exit_kind"] != "settlement"][0])


def test_the_fill_check_passes_the_untouched_run(run):
    assert _findings(run, lambda f, p: None) == set()


def test_the_fill_check_finds_a_leg_priced_outside_its_quote(run):
    def tamper(fills, _):
        fills.loc[_first_traded(fills), "price"] += 5.0

    assert "leg_outside_quote" in _findings(run, tamper)


def test_the_fill_check_finds_a_leg_off_its_tick_grid(run):
    def tamper(fills, _):
        i = _first_traded(fills)
        fills.loc[i, "price"] = round(fills.loc[i, "price"] + 0.01, 2)

    assert "off_tick_grid" in _findings(run, tamper)


def test_the_fill_check_finds_a_fill_ahead_of_its_minutes_option_quote(run):
    """A fill stamped on the minute itself acted on the previous minute's quotes (the stale-quote stop)."""

    def tamper(fills, _):
        i = _first_traded(fills)
        fills.loc[i, "ts_event"] = fills.loc[i, "ts_event"][:19] + ".000000000Z"

    assert "stale_quote" in _findings(run, tamper)


def test_the_fill_check_finds_a_package_pnl_one_cent_off(run):
    def tamper(_, positions):
        positions.loc[0, "realized_pnl"] += 0.01

    assert "money" in _findings(run, tamper)


def _settled_at(run, price_from_close) -> set[str]:
    """The run's first traded leg settled at the session's close at ``price_from_close(close level)``."""
    result, _, _ = run
    leg_fills = pd.read_csv(result.run_dir / "fills.csv", keep_default_na=False)
    row = leg_fills.iloc[_first_traded(leg_fills)]
    window = TradingCalendar().session_window(date.fromisoformat(row["expiry"]))
    assert window is not None
    bars = read_bars(result.run_dir.parent / "catalog", underlying_spec(row["underlying"]).bar_type)
    level = float(bars.close[list(bars.ts).index(window.close_ns)])

    def tamper(fills, _):
        settled = {**row.to_dict(), "exit_kind": "settlement", "price": price_from_close(level, row)}
        fills.loc[len(fills)] = {**settled, "ts_event": iso_utc(window.close_ns)}

    return _findings(run, tamper)


def _intrinsic(level: float, row) -> float:
    return round(max(0.0, level - row["strike"]) if row["right"] == "C" else max(0.0, row["strike"] - level), 2)


def test_the_fill_check_holds_settlements_to_the_closing_index_level(run):
    assert "settlement_level" not in _settled_at(run, _intrinsic)
    assert "settlement_level" in _settled_at(run, lambda level, row: _intrinsic(level, row) + 1.0)


def test_regression_a_backtest_rerun_into_its_folder_starts_from_a_fresh_state(tmp_path):
    """Run again into the same folder, a backtest inherited the first run's risk state (the EOD lock of
    every day it ran, its breakers and trade counts): it traded nothing, and its journal appended to the
    old one. Each run now starts as a fresh account and gives the same files."""
    build_sample(tmp_path / "catalog", SampleConfig(days=1, strikes_each_side=12))
    config = load_backtest_config(DEFAULT_CONFIG, catalog=tmp_path / "catalog")
    first = run_backtest(config, tmp_path / "run")
    written = {name: (tmp_path / "run" / name).read_bytes() for name in ("fills.csv", "positions.csv", DECISIONS)}
    second = run_backtest(config, tmp_path / "run")
    assert first.summary["strategies"][-1]["trades"] > 0
    assert second.summary == first.summary
    assert {name: (tmp_path / "run" / name).read_bytes() for name in written} == written


def test_an_option_never_quoted_is_listed_in_the_cache_but_gets_no_matching_engine(tmp_path, monkeypatch):
    """Nautilus keeps a venue's matching engines for the whole run and iterates all of them whenever an order
    command is pending: only the options whose quotes are replayed (and so can trade) get one. The others
    stay listed in the cache, where the chain and the GEX signal read them."""
    build_sample(tmp_path / "catalog", SampleConfig(days=1, strikes_each_side=12))
    at_venue: list[str] = []
    feeds: list = []
    listed: set[str] = set()

    class RecordingEngine(backtest.BacktestEngine):
        def add_instrument(self, instrument):
            at_venue.append(instrument.id.value)
            super().add_instrument(instrument)

    def recording_feed(*args, **kwargs):
        feeds.append(session_feed(*args, **kwargs))
        return feeds[-1]

    def recording_day(engine, *args):
        quotes = run_day(engine, *args)
        listed.update(i.id.value for i in engine.cache.instruments() if isinstance(i, OptionContract))
        return quotes

    run_day = backtest._run_day
    monkeypatch.setattr(backtest, "BacktestEngine", RecordingEngine)
    monkeypatch.setattr(backtest, "session_feed", recording_feed)
    monkeypatch.setattr(backtest, "_run_day", recording_day)
    result = run_backtest(load_backtest_config(DEFAULT_CONFIG, catalog=tmp_path / "catalog"), tmp_path / "run")
    [feed] = feeds
    every = {o.id.value for o in feed.options}
    assert feed.quoted < every, "the strategies' reach should leave some strikes unquoted"
    assert {i for i in at_venue if i in every} == feed.quoted
    assert listed == every
    positions = pd.read_csv(result.run_dir / "positions.csv")
    assert len(positions) > 0 and result.summary["audit"]["ok"] is True  # it traded, and settled, as before


def test_a_run_on_a_fresh_engine_every_day_writes_the_same_files_as_on_one_engine(tmp_path, monkeypatch):
    """A long run goes on in a fresh engine every ``DAYS_PER_ENGINE`` days (Nautilus's work grows with what
    an engine has held). Nothing a decision reads may be lost at the boundary: the risk book's state, the run
    recorder and each strategy's ``carry_over`` (the harvester's IV history, which sizes its flies once it
    holds 5 days) cross it. One engine per day must trade, journal and book exactly as one engine for all."""
    build_sample(tmp_path / "catalog", SampleConfig(days=8, strikes_each_side=12))
    config = load_backtest_config(DEFAULT_CONFIG, catalog=tmp_path / "catalog")
    files = {}
    for days_per_engine in (100, 1):
        monkeypatch.setattr(backtest, "DAYS_PER_ENGINE", days_per_engine)
        result = run_backtest(config, tmp_path / f"run-{days_per_engine}")
        assert result.days == 8 and result.summary["audit"]["ok"] is True
        files[days_per_engine] = {name: (result.run_dir / name).read_bytes() for name in RUN_FILES[1:4]}
    assert files[1] == files[100]
    positions = pd.read_csv(tmp_path / "run-1" / "positions.csv")
    flies = positions[positions["strategy_id"] == "ThetaHarvester-001"]
    assert (flies["quantity"] != 1).any(), "no fly was sized from its IV history: the carry is untested"


def test_a_package_left_open_at_an_engines_last_day_stops_the_run_rather_than_being_forgotten(tmp_path, monkeypatch):
    """A fresh engine knows nothing of what its predecessor held: a package still open at the hand-over (a
    missing settlement; 0DTE closes by expiry) must fail the run, naming the day, never vanish from it."""
    build_sample(tmp_path / "catalog", SampleConfig(days=2, strikes_each_side=12))
    config = load_backtest_config(DEFAULT_CONFIG, catalog=tmp_path / "catalog")
    run_day = backtest._run_day

    def day_that_leaves_a_package(engine, *args):
        quotes = run_day(engine, *args)
        runtime_for(engine.kernel.trader_id.value).book.track([package_view(fly_entry(package="LEFT-OPEN"))])
        return quotes

    monkeypatch.setattr(backtest, "DAYS_PER_ENGINE", 1)
    monkeypatch.setattr(backtest, "_run_day", day_that_leaves_a_package)
    with pytest.raises(backtest.LeftOpenError, match="LEFT-OPEN"):
        run_backtest(config, tmp_path / "run")
