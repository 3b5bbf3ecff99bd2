"""``odte live`` and ``odte preflight``: the paper node and its checklist (registered on the ``odte`` app)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from odte_nautilus.live.settings import PAPER_CONFIG

if TYPE_CHECKING:
    from odte_nautilus.live.settings import LiveSettings
    from odte_nautilus.live.simulated import SimulatedRun

console = Console()
errors = Console(stderr=True)
GUARD_EXIT = 3  # a guard refused: nothing was sent


class Broker(StrEnum):
    ALPACA = "alpaca"
    ALPACA_SIM = "alpaca-sim"
    IB = "ib"
    IB_SIM = "ib-sim"

    @property
    def is_ib(self) -> bool:
        return self in (Broker.IB, Broker.IB_SIM)

    @property
    def is_sim(self) -> bool:
        return self in (Broker.ALPACA_SIM, Broker.IB_SIM)


ConfigOption = Annotated[
    Path, typer.Option("--config", dir_okay=False, help="Paper config (YAML); live settings stay in their own file.")
]
BrokerOption = Annotated[
    Broker,
    typer.Option(
        "--broker",
        help="alpaca / ib: the paper account (ib: a paper IB Gateway or TWS); alpaca-sim / ib-sim: the project's"
        " simulator on loopback.",
    ),
]
UnderlyingOption = Annotated[
    str | None, typer.Option("--underlying", help="Alpaca: SPY or QQQ (default: the config's); IB trades SPXW.")
]


def live(
    config: ConfigOption = PAPER_CONFIG,
    broker: BrokerOption = Broker.ALPACA_SIM,
    underlying: UnderlyingOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder (default runs/live-<UTC time>).")] = None,
    seconds_per_minute: Annotated[
        float, typer.Option("--seconds-per-minute", min=0.0, help="-sim: wall seconds per replayed minute.")
    ] = 0.25,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            help="-sim: where the sample session is built (<dir>/<underlying>-seed<N>; default"
            " catalog/alpaca-sim or catalog/ib-sim).",
        ),
    ] = None,
    sim_url: Annotated[
        str | None,
        typer.Option(
            "--sim-url",
            help="-sim: drive a simulator already running (odte sim alpaca / odte sim ib) at its control URL.",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue --out after a crash: its fills, journal and durable state.")
    ] = False,
    control_port: Annotated[
        int | None,
        typer.Option(
            "--control-port",
            min=0,
            help="The control API and dashboard's port (default: the config's; 0: any free one).",
        ),
    ] = None,
) -> None:
    """Run the paper node: both strategies, under the kernel, on Alpaca (SPY, QQQ) or IB (SPXW).

    --broker alpaca-sim (no credentials, nothing to start) replays a compressed sample SPY session (QQQ with
    --underlying QQQ) against the project's Alpaca simulator, exits when the session is over, and writes a
    run folder like a backtest's, audited the same way. With --sim-url the simulator runs apart (odte sim
    alpaca) and outlives the node: a node killed mid-session is started again with --resume --out <same
    folder>, reconciles from the broker and continues from the simulator's current time. --broker alpaca
    runs against the paper account named by configs/paper.yaml, with keys from the environment or
    .env.local. --broker ib-sim replays a compressed sample SPX session against the project's TWS simulator
    through Nautilus's own IB client (SPXW flies and strangles as BAG combos), with --sim-url and --resume
    as alpaca-sim's against odte sim ib (its control URL); --broker ib runs against a
    paper IB Gateway or TWS (the ib: section of the config; the DU account in TWS_ACCOUNT). Every paper
    guard runs first; one refusal and nothing is sent (exit 3).
    """
    from odte_nautilus.live.control import ControlConfigError
    from odte_nautilus.live.guards import GuardFailed
    from odte_nautilus.live.remote_session import RemoteSessionError
    from odte_nautilus.live.settings import SettingsError, environment, load_settings
    from odte_nautilus.reports import AuditFailed, render_table

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        _refuse(str(exc), 2)
    name = _underlying(broker, underlying or ("SPX" if broker.is_ib else settings.underlying))
    run_dir = out or Path("runs") / f"live-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    _check_run_folder(broker, run_dir, sim_url, resume)
    catalog = catalog or Path("catalog") / ("ib-sim" if broker.is_ib else "alpaca-sim")
    try:
        if broker is Broker.IB:
            from odte_nautilus.live.ib_account import run_ib_paper_account
            from odte_nautilus.live.settings import environment

            console.print(f"paper node on IB at {settings.ib.host}:{settings.ib.port} (SPXW); Ctrl-C stops it")
            summary = run_ib_paper_account(settings, config, run_dir, env=environment(), control_port=control_port)
            replayed = ""
        elif broker is Broker.ALPACA:
            from odte_nautilus.live.paper_account import run_paper_account

            console.print(f"paper node on {settings.alpaca.base_url} ({name}); Ctrl-C stops it")
            summary = run_paper_account(
                settings, config, run_dir, underlying=name, env=environment(), control_port=control_port
            )
            replayed = ""
        else:
            result = _run_simulated(
                broker, settings, config, run_dir, name, catalog, seconds_per_minute, sim_url, control_port
            )
            summary = result.summary
            replayed = f"{name} session {result.session}: {result.minutes} minutes replayed"
    except GuardFailed as exc:
        _refuse(str(exc), GUARD_EXIT)
    except (RemoteSessionError, ControlConfigError) as exc:
        _refuse(str(exc), 2)
    except AuditFailed as exc:
        console.print(f"[red]INVARIANT AUDIT FAILED[/red] (run folder {run_dir}):\n{exc}")
        raise typer.Exit(1) from None
    console.print(render_table(summary))
    if replayed:
        console.print(replayed)
    console.print(f"invariant audit: {'passed' if summary['audit']['ok'] else 'FAILED'}")
    console.print(f"run folder: {run_dir} (report: {run_dir / 'report.html'}; paper log in {settings.logs_dir})")


def _underlying(broker: Broker, name: str) -> str:
    name = name.upper()
    if broker.is_ib and name not in ("SPX", "SPXW"):
        _refuse(f"--underlying {name}: the IB node trades SPXW (SPX index options)", 2)
    if not broker.is_ib and name not in ("SPY", "QQQ"):
        _refuse(f"--underlying {name}: Alpaca lists SPY and QQQ options here (no index options)", 2)
    return "SPX" if broker.is_ib else name


def _check_run_folder(broker: Broker, run_dir: Path, sim_url: str | None, resume: bool) -> None:
    """A simulated session starts from a fresh run folder (its state holds the day lock), unless resumed;
    a resume continues a folder that has the durable state of the run it continues."""
    if not broker.is_sim and sim_url is not None:
        _refuse("--sim-url drives the project's simulator: it goes with --broker alpaca-sim or ib-sim", 2)
    if not resume:
        if broker.is_sim and run_dir.exists() and any(run_dir.iterdir()):
            _refuse(
                f"--out {run_dir} is not empty: a simulated session starts from a fresh state (its day lock);"
                " --resume continues it after a crash",
                2,
            )
        return
    if broker.is_sim and sim_url is None:
        _refuse(
            "--resume with the simulator in this process: it died with the node, and its orders and positions"
            f" with it; run it apart (odte sim {'ib' if broker.is_ib else 'alpaca'}) and pass --sim-url",
            2,
        )
    from odte_nautilus.live.node import STATE_FILE

    if broker.is_sim and not (run_dir / "state" / STATE_FILE).exists():
        _refuse(f"--resume: {run_dir} holds no durable state ({Path('state') / STATE_FILE}) to continue", 2)


def _run_simulated(
    broker: Broker,
    settings: LiveSettings,
    config: Path,
    run_dir: Path,
    name: str,
    catalog: Path,
    seconds_per_minute: float,
    sim_url: str | None,
    control_port: int | None,
) -> SimulatedRun:
    """The simulated session with a progress bar over the replayed minutes."""
    from odte_nautilus.live.settings import environment

    columns = [TextColumn(f"[bold]{broker}"), BarColumn(), TextColumn("{task.fields[at]}"), TimeElapsedColumn()]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("session", total=390, at="")
        if broker is Broker.IB_SIM:
            from odte_nautilus.live.ib_simulated import run_ib_simulated_session

            return run_ib_simulated_session(
                settings,
                config,
                run_dir,
                catalog_root=catalog,
                seconds_per_minute=seconds_per_minute,
                env=environment(),
                on_minute=lambda ts: progress.update(task, advance=1, at=_ny(ts)),
                control_port=control_port,
                sim_url=sim_url,
            )
        from odte_nautilus.live.simulated import run_simulated_session

        return run_simulated_session(
            settings,
            config,
            run_dir,
            underlying=name,
            catalog_root=catalog,
            seconds_per_minute=seconds_per_minute,
            env=environment(),
            on_minute=lambda ts: progress.update(task, advance=1, at=_ny(ts)),
            sim_url=sim_url,
            control_port=control_port,
        )


def preflight(
    config: ConfigOption = PAPER_CONFIG,
    broker: BrokerOption = Broker.ALPACA,
    underlying: UnderlyingOption = None,
) -> None:
    """Run seed 003's pre-flight checklist, item by item; exit 3 if any item fails.

    Local items first (BROKER_MODE, the paper config, keys set and distinct from the live key, the paper
    URL, risk limits, the paper log); the broker is asked (account, buying power, options level, today's
    0DTE contracts) only when all of them passed. --broker alpaca-sim checks against the project's simulator.
    --broker ib: BROKER_MODE, the paper config, TWS_ACCOUNT set, a paper port (4002/7497), risk limits, the
    paper log; then one read-only connection: every managed account a paper DU account, the traded one
    among them, its net liquidation, today's SPXW contracts. --broker ib-sim checks the TWS simulator.
    """
    from odte_nautilus.live.preflight import run_preflight
    from odte_nautilus.live.settings import environment

    env = environment()
    if broker.is_ib:
        checks = _ib_preflight(config, env, simulated=broker is Broker.IB_SIM)
    elif broker is Broker.ALPACA_SIM:
        from odte_nautilus.live.settings import load_settings
        from odte_nautilus.live.sim_broker import SIM_KEY, SIM_SECRET, sample_catalog, simulator

        settings = load_settings(config)
        name = (underlying or settings.underlying).upper()
        catalog = sample_catalog(Path("catalog/alpaca-sim"), name)
        keys = {settings.alpaca.key_env: SIM_KEY, settings.alpaca.secret_env: SIM_SECRET}
        with simulator(catalog, name) as sim:
            checks = run_preflight(config, {**env, **keys}, simulator=True, underlying=name, base_url=sim.rest_url)
    else:
        checks = run_preflight(config, env, simulator=False, underlying=underlying)
    for check in checks:
        mark = "[green]PASS[/green]" if check.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {check.name}: {escape(check.reason)}", highlight=False)
    failed = [c for c in checks if not c.passed]
    if failed:
        console.print(f"[red]preflight failed[/red]: {len(failed)} of {len(checks)} items")
        raise typer.Exit(GUARD_EXIT)
    console.print(f"preflight passed: {len(checks)} items")


sim_app = typer.Typer(help="The project's broker simulators, alone (a node drives them with --sim-url).")


@sim_app.command("alpaca")
def sim_alpaca(
    underlying: Annotated[str, typer.Option("--underlying", help="SPY or QQQ.")] = "SPY",
    catalog: Annotated[
        Path, typer.Option("--catalog", help="Where the sample session is built (<dir>/<underlying>).")
    ] = Path("catalog/alpaca-sim"),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
) -> None:
    """Run the Alpaca simulator alone on 127.0.0.1, on a manual clock, until Ctrl-C or SIGTERM.

    It replays one sample session and serves Alpaca's API (REST under /v2, the websockets) with the
    simulated paper account's keys, plus its own control API under /sim/v1 (GET /sim/v1/clock, POST
    /sim/v1/advance {"to_ns": ...}; loopback only), through which `odte live --broker alpaca-sim --sim-url
    URL` drives the session. The broker outlives the node: a node killed mid-session and started again
    with --resume finds its orders and positions here.
    """
    from odte_nautilus.live.sim_broker import SIM_ACCOUNT, SIM_KEY, SIM_SECRET, sample_catalog
    from odte_nautilus.sim.alpaca import AlpacaSimulator

    name = underlying.upper()
    if name not in ("SPY", "QQQ"):
        _refuse(f"--underlying {name}: Alpaca lists SPY and QQQ options here (no index options)", 2)
    path = sample_catalog(catalog, name)

    def banner(sim: AlpacaSimulator) -> list[str]:
        return [
            f"alpaca-sim {sim.rest_url}",
            f"{name} session {sim.market.session.trading_date} (manual clock at {_ny(sim.now_ns)} ET); control API"
            f" {sim.rest_url}/sim/v1; Ctrl-C stops it",
        ]

    simulator = AlpacaSimulator(
        path, underlying=name, key=SIM_KEY, secret=SIM_SECRET, account_number=SIM_ACCOUNT, port=port
    )
    _serve_until_stopped("alpaca-sim", simulator, banner, f"127.0.0.1:{port}")


@sim_app.command("ib")
def sim_ib(
    catalog: Annotated[
        Path, typer.Option("--catalog", help="Where the SPX sample session is built (<dir>/spx-seed<n>).")
    ] = Path("catalog/ib-sim"),
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TWS port on 127.0.0.1 (0: a free one).")] = 0,
    control_port: Annotated[
        int, typer.Option("--control-port", min=0, max=65535, help="Control API port on 127.0.0.1 (0: a free one).")
    ] = 0,
    account: Annotated[str, typer.Option("--account", help="The managed account it reports (U... looks live).")] = (
        "DU1234567"
    ),
) -> None:
    """Run the TWS simulator alone on 127.0.0.1, on a manual clock, until Ctrl-C or SIGTERM.

    It replays one sample SPX session and speaks the TWS socket protocol (server version 178) to ib_async
    and Nautilus's IB client on its port, plus its own control API under /sim/v1 (GET /sim/v1/clock, POST
    /sim/v1/advance {"to_ns": ...}, positions, orders, executions, POST /sim/v1/disconnect, PATCH
    /sim/v1/faults; loopback only) through which a node or a test drives and inspects it. Orders,
    positions and executions outlive any client. It replays the session `odte live --broker ib-sim` does
    (the same sample seed), which drives it with --sim-url <control URL>.
    """
    from odte_nautilus.live.ib_simulated import SIM_IB_SEED, SIM_UNDERLYING
    from odte_nautilus.live.sim_broker import sample_catalog
    from odte_nautilus.sim.ib import TwsSimulator

    def banner(sim: TwsSimulator) -> list[str]:
        return [
            f"ib-sim {sim.host}:{sim.port} account {sim.account}",
            f"SPX session {sim.trading_date} (manual clock at {_ny(sim.now_ns)} ET); control API"
            f" {sim.control_url}/sim/v1; Ctrl-C stops it",
        ]

    catalog_path = sample_catalog(catalog, SIM_UNDERLYING, SIM_IB_SEED)
    simulator = TwsSimulator(catalog_path, accounts=(account,), port=port, control_port=control_port)
    _serve_until_stopped("ib-sim", simulator, banner, f"127.0.0.1:{port} / {control_port}")


def _serve_until_stopped(name: str, simulator: Any, banner: Callable[[Any], list[str]], where: str) -> None:
    """Serve a simulator (a context manager) until Ctrl-C or SIGTERM, after printing where it listens."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with simulator as sim:
            for line in banner(sim):
                console.print(line, highlight=False, soft_wrap=True)
            sys.stdout.flush()
            stop.wait()
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        _refuse(f"the {name} simulator cannot serve on {where}: {exc}", 2)
    console.print(f"{name} stopped")


def _ib_preflight(config: Path, env: dict[str, str], *, simulated: bool) -> list:
    from odte_nautilus.live.ib_preflight import run_ib_preflight

    if not simulated:
        return run_ib_preflight(config, env, simulator=False)
    from odte_nautilus.live.ib_simulated import SIM_IB_ACCOUNT, SIM_IB_SEED, SIM_UNDERLYING
    from odte_nautilus.live.settings import load_settings
    from odte_nautilus.live.sim_broker import sample_catalog
    from odte_nautilus.sim.ib import TwsSimulator

    settings = load_settings(config)
    catalog = sample_catalog(Path("catalog/ib-sim"), SIM_UNDERLYING, SIM_IB_SEED)
    with TwsSimulator(catalog, accounts=(SIM_IB_ACCOUNT,)) as sim:
        env = {**env, settings.ib.account_env: SIM_IB_ACCOUNT}
        return run_ib_preflight(config, env, simulator=True, port=sim.port)


def _ny(ts_ns: int) -> str:
    from odte_nautilus.risk.session import NEW_YORK

    return datetime.fromtimestamp(ts_ns / 1e9, NEW_YORK).strftime("%H:%M")


def _refuse(message: str, code: int) -> NoReturn:
    errors.print(f"[red]refused:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(live)
    app.command()(preflight)
    app.add_typer(sim_app, name="sim")
    from odte_nautilus.live.watchdog_cli import watchdog_app  # it imports this module's options

    app.add_typer(watchdog_app, name="watchdog")
