"""``odte catalog``: sample then stats work; refusals exit 2 with the file, the row and the fix."""

import pandas as pd
import typer
from typer.testing import CliRunner

from odte_nautilus.data.calibration import BANDS, day_figure
from odte_nautilus.data.cli import DATA_ERROR_EXIT, catalog_app
from odte_nautilus.data.stats import catalog_stats
from tests.data.helpers import write_cboe_csv, write_index_csv

app = typer.Typer()
app.add_typer(catalog_app, name="catalog")  # as odte_nautilus.cli registers it
runner = CliRunner()


def test_sample_then_stats(tmp_path):
    path = tmp_path / "catalog"
    result = runner.invoke(app, ["catalog", "sample", "--days", "1", "--strikes", "6", "--path", str(path)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["catalog", "stats", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 sessions (SPX), 26 option instruments, 10,140 quotes" in result.output
    for band in BANDS:
        assert f"{band.published:.3f}" in result.output


def test_stats_figures_come_from_the_catalog(tiny_catalog, session_data):
    stats = catalog_stats(tiny_catalog)
    expected = day_figure(session_data)
    assert stats.days[0].straddle == expected.straddle and stats.days[0].settlement == expected.settlement


def test_import_refusal_exits_2_and_writes_nothing(tmp_path, session_data):
    quotes = write_cboe_csv(session_data, tmp_path / "q.csv")
    frame = pd.read_csv(quotes)
    frame.loc[0, "bid"] = 999.0
    frame.to_csv(quotes, index=False)
    index = write_index_csv(session_data, tmp_path / "spx.csv")
    path = tmp_path / "catalog"
    result = runner.invoke(
        app, ["catalog", "import", "csv", str(quotes), "--layout", "cboe", "--index", str(index), "--path", str(path)]
    )
    assert result.exit_code == DATA_ERROR_EXIT
    assert "crossed_quote" in result.output and "row 2" in result.output
    assert not path.exists()


def test_every_command_has_help():
    for args in (
        ["catalog"],
        ["catalog", "sample"],
        ["catalog", "stats"],
        ["catalog", "import", "databento"],
        ["catalog", "import", "csv"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
