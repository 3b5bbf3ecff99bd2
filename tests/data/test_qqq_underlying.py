"""QQQ is the third underlying: ``odte catalog sample --underlying QQQ`` writes a checked, penny-ticked QQQ chain."""

import typer
from typer.testing import CliRunner

from odte_nautilus.data import catalog_io
from odte_nautilus.data.cli import catalog_app
from odte_nautilus.data.symbology import parse_option_id
from odte_nautilus.data.ticks import PENNY_TICKS, on_tick_grid
from odte_nautilus.data.underlyings import QQQ, ExerciseStyle, Settlement, underlying_spec

app = typer.Typer()
app.add_typer(catalog_app, name="catalog")  # as odte_nautilus.cli registers it


def test_qqq_spec_is_an_american_physically_settled_penny_etf_option():
    assert underlying_spec("qqq") is QQQ
    assert (QQQ.symbol, QQQ.option_root, QQQ.underlying_id) == ("QQQ", "QQQ", "QQQ.SMART")
    assert (QQQ.exercise, QQQ.settlement, QQQ.ticks, QQQ.strike_step) == (
        ExerciseStyle.AMERICAN,
        Settlement.PHYSICAL,
        PENNY_TICKS,
        1.0,
    )


def test_catalog_sample_underlying_qqq_writes_a_qqq_session(tmp_path):
    path = tmp_path / "catalog"
    args = ["catalog", "sample", "--underlying", "QQQ", "--days", "1", "--strikes", "6", "--path", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    [part] = catalog_io.catalog_sessions(path)
    assert part.spec is QQQ
    data = catalog_io.read_session(path, part)
    assert data.checked_underlying.id.value == "QQQ.SMART"
    keys = [parse_option_id(o.id.value) for o in data.options]
    assert {k.root for k in keys} == {"QQQ"} and {k.venue for k in keys} == {"SMART"}
    strikes = sorted({k.strike for k in keys})
    assert strikes == [strikes[0] + k for k in range(13)]
    assert abs(float(data.checked_bars.open[0]) - QQQ.sample_start_price) < 0.05 * QQQ.sample_start_price
    for series in data.quotes.values():
        assert on_tick_grid(series.bid, PENNY_TICKS).all() and on_tick_grid(series.ask, PENNY_TICKS).all()
