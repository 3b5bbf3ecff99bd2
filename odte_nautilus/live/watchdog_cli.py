"""``odte watchdog run|preflight|flatten``: the IB paper node's out-of-band watchdog (``live/watchdog.py``).

Each command is its own process with its own event loop (ib_async binds to the first loop it runs on) and
its own IB client id, so it works whatever state the node is in. Exit codes: 0 done (flat), 1 a flatten
that did not end flat, 2 a usage error or no gateway answering, 3 a paper guard refused (nothing was sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from odte_nautilus.live.cli import GUARD_EXIT, ConfigOption, _refuse, console
from odte_nautilus.live.settings import PAPER_CONFIG

if TYPE_CHECKING:
    from odte_nautilus.live.settings import LiveSettings
    from odte_nautilus.live.watchdog import Watchdog

NOT_FLAT_EXIT = 1
LOG_FILE = "watchdog.log"


class IbBroker(StrEnum):
    IB = "ib"
    IB_SIM = "ib-sim"


BrokerOption = Annotated[
    IbBroker,
    typer.Option(
        "--broker", help="ib: the paper gateway of the config's ib: section; ib-sim: `odte sim ib` on 127.0.0.1."
    ),
]
HostOption = Annotated[str | None, typer.Option("--host", help="Gateway host (default: the config's ib.host).")]
PortOption = Annotated[
    int | None,
    typer.Option("--port", min=1, max=65535, help="Gateway port (default: the config's ib.port); ib-sim: required."),
]
StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        file_okay=False,
        help="The node's state dir: its heartbeat.sqlite and paper.sqlite (kill switch); default: the config's.",
    ),
]
AccountOption = Annotated[
    str | None,
    typer.Option("--account", help="The paper account (default: $TWS_ACCOUNT, the config's ib.account_env)."),
]
ClientIdOption = Annotated[
    int | None, typer.Option("--client-id", min=0, help="IB client id (default: the config's ib.watchdog_client_id).")
]

watchdog_app = typer.Typer(
    help="The IB paper node's out-of-band watchdog: its own process and IB client id, working when the node"
    " is hung or dead. Pre-flight (paper accounts only), a reconciliation of the broker's positions against"
    " the node's heartbeat every reconcile_every_seconds, and a flatten-all (cancel every order, buy back"
    " every short, then sell the longs) when the node stops beating, when the EOD flatten has passed with"
    " positions open, or by hand."
)


@watchdog_app.command("run")
def run(
    config: ConfigOption = PAPER_CONFIG,
    broker: BrokerOption = IbBroker.IB,
    host: HostOption = None,
    port: PortOption = None,
    state: StateOption = None,
    account: AccountOption = None,
    client_id: ClientIdOption = None,
    eod_grace_minutes: Annotated[
        int, typer.Option("--eod-grace-minutes", min=0, help="Minutes after the node's EOD flatten before ours.")
    ] = 5,
) -> None:
    """Watch the IB paper node until Ctrl-C or SIGTERM.

    Every second: when the broker shows option positions and the node has written no heartbeat for
    ib.heartbeat_timeout_seconds of wall time (hung or dead), or the session's EOD flatten (close minus
    flatten_minutes_before_close, in the gateway's time) plus --eod-grace-minutes has passed, it sets the
    node's kill switch, cancels every order of the account and closes every option leg, shorts first.
    Every reconcile_every_seconds it compares the broker's positions with the node's last heartbeat and
    alerts on a difference that persists. Journal: <state>/watchdog.jsonl; log: <logs_dir>/watchdog.log.
    """
    settings = _settings(config)
    _logging(settings)

    async def main(watchdog: Watchdog) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, watchdog.stop)
        await _connect(watchdog)
        console.print(f"watching {watchdog.account} on {watchdog.host}:{watchdog.port}; {watchdog.heartbeat_status()}")
        await watchdog.run()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the loop is cancelled, the watchdog closed
        _with_watchdog(settings, main, broker, host, port, state, account, client_id, eod_grace_minutes)
    console.print("watchdog stopped")


@watchdog_app.command("preflight")
def preflight(
    config: ConfigOption = PAPER_CONFIG,
    broker: BrokerOption = IbBroker.IB,
    host: HostOption = None,
    port: PortOption = None,
    state: StateOption = None,
    account: AccountOption = None,
    client_id: ClientIdOption = None,
) -> None:
    """Check what the watchdog checks before it starts, item by item; exit 3 if any fails (nothing is sent).

    BROKER_MODE is PAPER, the port is a paper port (or the declared simulator on loopback), a gateway
    answers, every account it manages is a paper DU account and the traded one is among them. The last line
    says where the watchdog listens for the node's heartbeat and what it last heard.
    """
    settings = _settings(config)

    async def main(watchdog: Watchdog) -> None:
        checks = await watchdog.preflight()
        for check in checks:
            mark = "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]"
            console.print(f"{mark} {check.name}: {escape(check.reason)}", highlight=False)
        console.print(f"heartbeat: {escape(watchdog.heartbeat_status())}", highlight=False)
        failed = [c for c in checks if not c.passed]
        if failed:
            console.print(f"[red]watchdog preflight failed[/red]: {len(failed)} of {len(checks)} items")
            raise typer.Exit(GUARD_EXIT)
        console.print(f"watchdog preflight passed: {len(checks)} items")

    _with_watchdog(settings, main, broker, host, port, state, account, client_id)


@watchdog_app.command("flatten")
def flatten(
    config: ConfigOption = PAPER_CONFIG,
    broker: BrokerOption = IbBroker.IB,
    host: HostOption = None,
    port: PortOption = None,
    state: StateOption = None,
    account: AccountOption = None,
    client_id: Annotated[
        int | None,
        typer.Option(
            "--client-id",
            min=0,
            help="IB client id (default: ib.watchdog_client_id + 1, so it works beside a running watchdog).",
        ),
    ] = None,
) -> None:
    """Flatten the IB paper account now, whatever the node is doing; exit 1 if it does not end flat.

    Sets the node's kill switch (<state>/paper.sqlite: no new entries until a person resets it), cancels
    every working order of the account (the node's too) and waits for them to go, counting a fill that wins
    a cancel; then buys back every short option leg and, once none is left, sells the longs, each at a
    marketable limit re-priced a few times and at market as a last resort. Prints what was sent and filled
    and the broker's positions at the end. The paper guards run first (exit 3, nothing sent).
    """
    settings = _settings(config)
    _logging(settings)
    chosen = settings.ib.watchdog_client_id + 1 if client_id is None else client_id

    async def main(watchdog: Watchdog) -> None:
        await _connect(watchdog)
        report = await watchdog.flatten_all()
        for line in report.lines():
            console.print(escape(line), highlight=False, soft_wrap=True)
        if not report.flat:
            raise typer.Exit(NOT_FLAT_EXIT)

    _with_watchdog(settings, main, broker, host, port, state, account, chosen)


def _with_watchdog(
    settings: LiveSettings,
    main: Callable[[Watchdog], Awaitable[None]],
    broker: IbBroker,
    host: str | None,
    port: int | None,
    state: Path | None,
    account: str | None,
    client_id: int | None,
    eod_grace_minutes: int = 5,
) -> None:
    """Build the watchdog inside the one event loop of this process, run ``main`` on it, close it."""
    from odte_nautilus.live.settings import environment
    from odte_nautilus.live.watchdog import Watchdog

    simulator = broker is IbBroker.IB_SIM
    if simulator and port is None:
        _refuse("--broker ib-sim needs --port: the port `odte sim ib` printed", 2)
    env = environment()
    if simulator and not (account or env.get(settings.ib.account_env)):
        from odte_nautilus.sim.ib.simulator import PAPER_ACCOUNT

        account = PAPER_ACCOUNT  # what `odte sim ib` reports unless told otherwise

    async def session() -> None:
        watchdog = Watchdog(
            settings,
            state or settings.state_dir,
            host=host,
            port=port,
            simulator=simulator,
            account=account,
            client_id=client_id,
            env=env,
            eod_grace_minutes=eod_grace_minutes,
        )
        try:
            await main(watchdog)
        finally:
            watchdog.close()

    asyncio.run(session())


async def _connect(watchdog: Watchdog) -> None:
    from odte_nautilus.live.guards import GuardFailed

    try:
        await watchdog.connect()
    except GuardFailed as exc:
        _refuse(str(exc), GUARD_EXIT)
    except ConnectionError as exc:
        _refuse(str(exc), 2)


def _settings(config: Path) -> LiveSettings:
    from odte_nautilus.live.settings import SettingsError, load_settings

    try:
        return load_settings(config)
    except SettingsError as exc:
        _refuse(str(exc), 2)


def _logging(settings: LiveSettings) -> None:
    """The watchdog's log: stderr and <logs_dir>/watchdog.log; ib_async's own chatter at WARNING."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        logging.StreamHandler(sys.stderr),
        logging.FileHandler(settings.logs_dir / LOG_FILE),
    ]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers)
    logging.getLogger("ib_async").setLevel(logging.WARNING)
