"""The notebooks in ``backtests/`` run top to bottom on a small catalog, so they never rot (issue 4).

Each notebook is executed by a real Jupyter kernel (``nbclient``) from the repository root, as a user
runs it, with ``ODTE_CATALOG`` pointing at a 2-session, 10-strike sample built once for the session and
``ODTE_RUNS`` at a temporary folder. A cell that raises fails the test with the cell's traceback. Cells
whose output is the point of the notebook carry a tag (``plot-*``, ``summary``, ``decisions-table``...):
the test checks that they produced it - a figure that silently stopped drawing is rot too.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from odte_nautilus.data.sample import SampleConfig, build_sample
from odte_nautilus.risk.model import ExitKind

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "backtests"
CELL_TIMEOUT_S = 120
PNG = "image/png"
HTML = "text/html"


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("notebook-catalog")
    # Seed 5: both sessions are short-gamma days (GEX tilt at 10:00 below -0.10), so the Gamma Scalper trades.
    build_sample(path, SampleConfig(days=2, strikes_each_side=10, seed=5))
    return path


def execute(name: str, catalog: Path, runs: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run ``backtests/<name>`` in a fresh kernel that inherits the catalog and runs folders from the env."""
    monkeypatch.setenv("ODTE_CATALOG", str(catalog))
    monkeypatch.setenv("ODTE_RUNS", str(runs))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # a non-inline backend would draw nothing into the notebook
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}
    )
    client.execute()  # raises CellExecutionError naming the cell on the first error
    return notebook


def tagged(notebook: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def mime_outputs(cell: nbformat.NotebookNode, mime: str) -> list:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
    parts += [o["data"].get("text/plain", "") for o in cell.outputs if "data" in o]
    return "\n".join(parts)


def only_run(runs: Path, prefix: str) -> Path:
    found = [p for p in runs.iterdir() if p.name.startswith(prefix)]
    assert len(found) == 1, f"expected one run folder {prefix}-* under {runs}, found {[p.name for p in found]}"
    return found[0]


def assert_strategy_run(notebook, runs: Path, prefix: str, strategy: str) -> None:
    """One fresh run folder, audited, trading only ``strategy``; the equity plot and the tables drew."""
    summary = json.loads((only_run(runs, prefix) / "summary.json").read_text())
    assert summary["audit"]["ok"]
    assert {row["strategy"] for row in summary["strategies"]} == {strategy, "TOTAL"}
    assert summary["strategies"][-1]["trades"] > 0, "the small catalog should make the strategy trade"
    assert len(mime_outputs(tagged(notebook, "plot-equity"), PNG)) == 1
    assert strategy in text_of(tagged(notebook, "summary"))
    positions = mime_outputs(tagged(notebook, "positions"), HTML)
    assert positions and f"{strategy}-2024" in positions[0]
    by_path, by_leg = mime_outputs(tagged(notebook, "exit-kinds"), HTML)
    kinds = [kind.value for kind in ExitKind]
    assert any(kind in by_path for kind in kinds), "positions.csv names how each package closed"
    assert any(kind in by_leg for kind in kinds), "fills.csv carries the exit kind of every exit leg fill"


def test_theta_harvester_notebook(small_catalog, tmp_path, monkeypatch):
    notebook = execute("theta_harvester.ipynb", small_catalog, tmp_path, monkeypatch)
    assert_strategy_run(notebook, tmp_path, "theta_harvester", "ThetaHarvester-001")


def test_gamma_scalper_notebook(small_catalog, tmp_path, monkeypatch):
    notebook = execute("gamma_scalper.ipynb", small_catalog, tmp_path, monkeypatch)
    assert_strategy_run(notebook, tmp_path, "gamma_scalper", "GammaScalper-002")
    gex = tagged(notebook, "plot-gex")
    assert len(mime_outputs(gex, PNG)) == 1
    table = mime_outputs(gex, HTML)
    assert table and "2024-07-22" in table[0] and "2024-07-23" in table[0], "one GEX reading per session"


def test_invariants_notebook(small_catalog, tmp_path, monkeypatch):
    notebook = execute("invariants.ipynb", small_catalog, tmp_path, monkeypatch)
    table = text_of(tagged(notebook, "decisions-table"))
    for code in (
        "NO_NAKED_SHORT",
        "MAX_OPEN_PACKAGES_PER_SYMBOL",
        "LOSS_STREAK_SIZE_CUT",
        "KILL_SWITCH",
        "EOD_FLATTEN_WINDOW",
        "ALLOWED",
    ):
        assert code in table, f"the walk-through's decision table lost {code}"
    assert len(mime_outputs(tagged(notebook, "plot-refusals"), PNG)) == 1
    assert (only_run(tmp_path, "invariants") / "decisions.jsonl").stat().st_size > 0


def test_sweep_notebook(small_catalog, tmp_path, monkeypatch):
    notebook = execute("sweep.ipynb", small_catalog, tmp_path, monkeypatch)
    out = only_run(tmp_path, "sweep")
    table = pd.read_parquet(out / "sweep.parquet")
    assert len(table) == 4 and (table["status"] == "ok").all() and table["audit_ok"].all()
    assert (out / "sweep.html").is_file()
    shown = mime_outputs(tagged(notebook, "sweep-table"), HTML)
    assert shown and all(run_pnl in shown[0] for run_pnl in (f"{pnl:.2f}" for pnl in table["pnl"]))
    assert len(mime_outputs(tagged(notebook, "plot-heatmap"), PNG)) == 1
