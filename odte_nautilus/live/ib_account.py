"""``odte live --broker ib``: the paper node against a real IB paper gateway (IB Gateway or TWS), one day.

Every guard first (``ib_preflight``): the environment, the files, the port, then one read-only connection
that must find only paper ``DU`` accounts. Only then is the node built, which connects at once (and would
retry for ever against nothing: the preflight has just seen the gateway answer). The node beats its heartbeat
for the watchdog (``odte watchdog run``, a separate process), runs until the close plus a grace period or
Ctrl-C, and writes the run folder as after a backtest, audited the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from odte_nautilus.live.alerts import attach_alerts
from odte_nautilus.live.control import serve_control
from odte_nautilus.live.guards import require
from odte_nautilus.live.ib_node import build_ib_node, ib_fees, start_node_heartbeat
from odte_nautilus.live.ib_preflight import run_ib_preflight
from odte_nautilus.live.node import write_run_folder
from odte_nautilus.live.paper_account import run_until_after_close
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.reports.daily import report_after_flatten
from odte_nautilus.risk.session import NEW_YORK

ASSUMPTIONS = {
    "broker": "an Interactive Brokers paper account (DU...) through IB Gateway or TWS",
    "orders": "one BAG combo per package at its signed net limit (credit negative)",
    "fills": "the broker's own executions per leg; the package at IB's average",
}


def run_ib_paper_account(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    *,
    env: Mapping[str, str],
    control_port: int | None = None,
) -> dict:
    require(run_ib_preflight(config_path, env, simulator=False))
    today = datetime.now(NEW_YORK).date()
    paper = build_ib_node(
        settings,
        port=settings.ib.port,
        account=env[settings.ib.account_env],
        session=today,
        run_dir=run_dir,
        state_dir=settings.state_dir,
        open_check_seconds=settings.reconcile_every_seconds,
    )
    heartbeat = start_node_heartbeat(paper, settings, settings.state_dir)
    attach_alerts(paper, settings, env)
    try:
        with serve_control(paper, settings, env=env, port=control_port):
            run_until_after_close(paper)
    finally:
        heartbeat.stop()
    try:
        return write_run_folder(paper, run_dir, [today], ib_fees(), ASSUMPTIONS)
    finally:
        report_after_flatten(run_dir, today)  # a day whose audit fails still gets its report
