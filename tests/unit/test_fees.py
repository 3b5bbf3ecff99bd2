"""Fee schedules (issue 8, part 4): the items sum, the config picks and overrides them, a bad key is refused,
and the run folder's ``fees`` block adds up to what ``fills.csv`` says the fills paid, to the cent."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from odte_nautilus.backtest import DEFAULT_CONFIG, BacktestConfigError, fill_assumptions, load_backtest_config
from odte_nautilus.fees import ITEMS, SCHEDULES, FeeScheduleError, fee_schedule
from odte_nautilus.reports import AuditRules, RunDataError, write_run_outputs
from odte_nautilus.reports.summary import fee_summary
from tests.kit import DAY, session
from tests.run_folder_kit import (
    GAMMA,
    THETA,
    fills_frame,
    fly_entry_fills,
    fly_exit_fills,
    iso,
    position,
    positions_frame,
    strangle_fills,
    write_run,
)
from tests.unit.test_cli_refusals import backtest_config, refused_line


def test_the_ib_spxw_items_sum_and_the_charge_is_rounded_up_to_the_cent():
    ib = fee_schedule("ib-spxw")
    assert ib.items() == {
        "commission": 0.65,
        "exchange": 0.58,  # Cboe's proprietary index option fee on SPXW, premium >= $1
        "clearing": 0.02,
        "orf": 0.02685,
        "finra_taf": 0.00279,
        "cat": 0.0,
    }
    assert ib.items_total == pytest.approx(1.27964, abs=1e-9)
    assert ib.per_contract == 1.28


@pytest.mark.parametrize("name", ["alpaca-spy", "alpaca-qqq"])
def test_alpaca_charges_no_commission_and_no_exchange_fee_only_pass_throughs(name):
    alpaca = fee_schedule(name)
    assert alpaca.commission == 0.0 and alpaca.exchange == 0.0
    assert alpaca.items_total == pytest.approx(0.02 + 0.02685 + 0.00279 + 0.0046, abs=1e-9)  # 0.05424
    assert alpaca.per_contract == 0.06  # rounded up, never down


def test_every_schedule_names_its_source_and_a_charge_that_covers_its_items():
    for name, schedule in SCHEDULES.items():
        assert schedule.name == name and schedule.source and schedule.broker and schedule.product
        assert list(schedule.items()) == list(ITEMS)
        assert schedule.items_total <= schedule.per_contract < schedule.items_total + 0.01
        assert round(schedule.per_contract * 100) == pytest.approx(schedule.per_contract * 100)


def test_an_exact_cent_total_is_not_rounded_up():
    assert fee_schedule("ib-spxw", {"orf": 0.0, "finra_taf": 0.0}).per_contract == 1.25


def test_overrides_replace_items_and_say_so():
    cheaper = fee_schedule("ib-spxw", {"commission": 0.5, "cat": 0.0046})
    assert cheaper.commission == 0.5 and cheaper.cat == 0.0046 and cheaper.exchange == 0.58
    assert cheaper.items_total == pytest.approx(1.27964 - 0.15 + 0.0046, abs=1e-9)
    assert cheaper.per_contract == 1.14
    assert "commission=0.5, cat=0.0046" in cheaper.notes
    assert SCHEDULES["ib-spxw"].commission == 0.65, "the shipped schedule is untouched"


@pytest.mark.parametrize(
    ("name", "overrides", "why"),
    [
        ("ib-spx", {}, "unknown fee schedule 'ib-spx'; the schedules are ib-spxw, alpaca-spy, alpaca-qqq"),
        ("ib-spxw", {"comission": 0.5}, "unknown fee item(s) comission; the items are commission, exchange"),
        ("ib-spxw", {"commission": -0.1}, "fee item commission of schedule ib-spxw: -0.1 is not a non-negative"),
        ("ib-spxw", {"orf": float("nan")}, "fee item orf of schedule ib-spxw: nan"),
    ],
)
def test_a_bad_schedule_or_item_is_refused(name, overrides, why):
    with pytest.raises(FeeScheduleError) as caught:
        fee_schedule(name, overrides)
    assert why in str(caught.value)


def test_the_default_config_runs_the_ib_spxw_schedule():
    config = load_backtest_config(DEFAULT_CONFIG)
    assert config.fees.resolve() == SCHEDULES["ib-spxw"]
    line = fill_assumptions(config.fees.resolve())["fees"]
    assert line.startswith("ib-spxw (Interactive Brokers") and "$1.28 per contract" in line


def test_the_config_picks_a_schedule_and_overrides_items(tmp_path):
    path = backtest_config(tmp_path, fees={"schedule": "alpaca-spy", "overrides": {"cat": 0.0053}})
    schedule = load_backtest_config(path).fees.resolve()
    assert schedule.name == "alpaca-spy" and schedule.cat == 0.0053 and schedule.per_contract == 0.06


BAD_FEES = {
    "unknown schedule": ({"schedule": "robinhood"}, "fees: unknown fee schedule 'robinhood'"),
    "unknown item": ({"overrides": {"comission": 0.5}}, "fees: unknown fee item(s) comission"),
    "negative item": ({"overrides": {"exchange": -1}}, "fees: fee item exchange of schedule ib-spxw: -1.0 is not"),
    "not a number": ({"overrides": {"exchange": "free"}}, "fees.overrides.exchange: Input should be a valid number"),
    "unknown key": ({"schedule": "ib-spxw", "per_leg": 1}, "fees.per_leg: Extra inputs are not permitted"),
}


@pytest.mark.parametrize(("fees", "why"), BAD_FEES.values(), ids=BAD_FEES.keys())
def test_a_bad_fees_block_is_refused_in_one_line(tmp_path, fees, why):
    config = backtest_config(tmp_path, fees=fees)
    with pytest.raises(BacktestConfigError, match="fees"):
        load_backtest_config(config)
    line = refused_line(config, tmp_path)
    assert line.startswith(f"refused: {config}: {why}"), line


def test_the_old_flat_fee_key_is_refused(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["fee_per_contract"] = 0.65
    config = tmp_path / "old.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert "fee_per_contract: Extra inputs are not permitted" in refused_line(config, tmp_path)


# -- the run folder's fees block ------------------------------------------------------------------------

IB = fee_schedule("ib-spxw")


def charged(fills: pd.DataFrame, per_contract: float) -> pd.DataFrame:
    """The fills as the engine writes them: each pays the charge per contract, expiry settlement nothing."""
    fee = (fills["quantity"] * per_contract).round(2)
    return fills.assign(fee=fee.where(fills["exit_kind"] != "settlement", 0.0))


def run_fills() -> pd.DataFrame:
    return fills_frame(
        fly_entry_fills(iso(10, 0), "F-1", qty=2),
        fly_exit_fills(iso(11, 0), "F-1", qty=2),
        strangle_fills(iso(10, 30), "G-1"),
        strangle_fills(iso(15, 59), "G-1", role="exit", exit_kind="settlement"),
    )


def test_the_fees_block_adds_up_to_the_fills_to_the_cent():
    fills = charged(run_fills(), IB.per_contract)
    block = fee_summary(fills.astype(str), IB)  # read back from the CSV as text
    assert block["schedule"] == "ib-spxw" and block["per_contract_items"] == IB.items()
    assert block["charged_per_contract"] == 1.28
    # the fly: 4 legs x 2 contracts in and out = 16; the strangle: 2 in, settled out for nothing = 2
    assert block["contracts"] == 18
    assert block["total_paid"] == round(fills["fee"].sum(), 2) == 23.04
    assert block["by_strategy"] == {
        GAMMA: {"total_paid": 2.56, "contracts": 2},
        THETA: {"total_paid": 20.48, "contracts": 16},
    }


def test_a_fill_without_a_readable_fee_is_named():
    fills = charged(run_fills(), IB.per_contract).astype(str)
    fills.loc[3, "fee"] = "n/a"
    with pytest.raises(RunDataError, match=r"fills\.csv: line 5: column fee is 'n/a'"):
        fee_summary(fills, IB)
    with pytest.raises(RunDataError, match=r"missing column\(s\) fee"):
        fee_summary(run_fills(), IB)


def test_summary_json_and_the_report_state_the_schedule_and_the_total_paid(tmp_path):
    fills = charged(run_fills(), IB.per_contract)
    positions = positions_frame(
        position("F-1", 80.0, closed=iso(11, 0)), position("G-1", -50.0, strategy=GAMMA, closed=iso(16, 0))
    )
    run = write_run(tmp_path / "run", fills, positions, [])
    rules = AuditRules(max_open_packages_total=5, flatten_ns={DAY: session().flatten_ns})
    summary, _ = write_run_outputs(run, rules, fill_assumptions(IB), IB)
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk["fees"] == summary["fees"]
    assert on_disk["fees"]["total_paid"] == round(pd.read_csv(run / "fills.csv")["fee"].sum(), 2) == 23.04
    assert on_disk["assumptions"]["fees"].startswith("ib-spxw (")
    report = (run / "report.html").read_text()
    assert "<h2>Fees</h2>" in report and "Cboe" in report and "FINRA Trading Activity Fee" in report
    assert "1.27964" in report and "1.28" in report and "23.04" in report
