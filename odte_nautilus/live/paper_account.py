"""``odte live --broker alpaca``: the paper node against a real Alpaca paper account, for one trading day.

Every guard first (``preflight``): nothing is built, let alone sent, until the environment, the files, the
keys, the URL and then the account itself have all passed. The node runs on Nautilus's own clock until the
session is over (after the flatten and the lock) or until Ctrl-C, then writes the run folder as after a
backtest, audited the same way (there is no catalog to hold the fills to, so the fill check's quote rules do
not run; the money still has to reconcile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

from odte_nautilus.live.alerts import attach_alerts
from odte_nautilus.live.control import serve_control
from odte_nautilus.live.guards import require
from odte_nautilus.live.node import BrokerUrls, PaperNode, alpaca_fees, build_paper_node, write_run_folder
from odte_nautilus.live.preflight import Credentials, broker_checks, local_checks, paper_client
from odte_nautilus.live.settings import LiveSettings
from odte_nautilus.reports.daily import report_after_flatten
from odte_nautilus.risk.session import NEW_YORK
from odte_nautilus.runtime import detach

AFTER_CLOSE_SECONDS = 300  # the node stays up this long after the close: late broker events are booked
ASSUMPTIONS = {
    "broker": "an Alpaca paper account (paper-api.alpaca.markets)",
    "orders": "one mleg order per package at its signed net limit (credit negative)",
    "fills": "the broker's own fills and leg prices",
}


def run_paper_account(
    settings: LiveSettings,
    config_path: Path,
    run_dir: Path,
    *,
    underlying: str,
    env: Mapping[str, str],
    control_port: int | None = None,
) -> dict:
    urls = BrokerUrls.from_settings(settings)
    require(local_checks(config_path, settings, env, simulator=False))
    credentials = Credentials.from_env(settings, env)
    client = paper_client(credentials.key, credentials.secret, urls.rest)
    require(broker_checks(client, settings, underlying))
    account = client.get_account()
    paper = build_paper_node(
        settings,
        credentials,
        urls,
        underlying=underlying,
        run_dir=run_dir,
        state_dir=settings.state_dir,
        account_id=str(account["account_number"]),  # type: ignore[index]
        open_check_seconds=settings.reconcile_every_seconds,
    )
    today = today_of(paper)
    attach_alerts(paper, settings, env)
    with serve_control(paper, settings, env=env, port=control_port):
        run_until_after_close(paper)
    try:
        return write_run_folder(paper, run_dir, [today], alpaca_fees(underlying), ASSUMPTIONS)
    finally:
        report_after_flatten(run_dir, today)  # a day whose audit fails still gets its report


def run_until_after_close(paper: PaperNode) -> None:
    """Run the node until the session's close plus a grace period (or Ctrl-C: Nautilus stops it)."""
    node = paper.node
    loop = node.get_event_loop()
    assert loop is not None
    window = paper.book.calendar.session_window(today_of(paper))

    async def stop_after_close() -> None:
        if window is not None:
            wait = (window.close_ns - node.kernel.clock.timestamp_ns()) / 1e9 + AFTER_CLOSE_SECONDS
            await asyncio.sleep(max(0.0, wait))
        await node.stop_async()

    task = loop.create_task(stop_after_close())
    try:
        node.run()
    finally:
        task.cancel()
        node.dispose()
        detach(node.kernel)
        paper.book.close()


def today_of(paper: PaperNode) -> date:
    return datetime.fromtimestamp(paper.node.kernel.clock.timestamp_ns() / 1e9, NEW_YORK).date()
