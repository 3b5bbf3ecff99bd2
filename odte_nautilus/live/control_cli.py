"""``odte emergency-stop``, ``odte flatten``, ``odte status``, ``odte reset``, ``odte strategy disable|enable ID``.

Each talks to a running node's control API over HTTP (``odte_nautilus/live/control/``), at the address of
the paper config's ``control:`` section or ``--url``. When no node answers, each says so and exits 4; when
the node refuses (a missing or wrong token, an unknown strategy), it prints the node's reason and exits 1.
``reset`` and ``strategy enable`` send the token from the variable the config names (``ODTE_CONTROL_TOKEN``
by default; the environment or ``.env.local``). The standard library's HTTP client is enough here.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from odte_nautilus.live.settings import PAPER_CONFIG, ControlSettings, SettingsError, environment, load_settings

console = Console()
errors = Console(stderr=True)
NO_NODE_EXIT = 4  # nothing answered at the control address
REFUSED_EXIT = 1  # the node answered with an error
TIMEOUT_S = 15.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a node is never reached through a proxy

UrlOption = Annotated[
    str | None, typer.Option("--url", help="The node's control API (default: the config's control host and port).")
]
ConfigOption = Annotated[Path, typer.Option("--config", dir_okay=False, help="Paper config with the control section.")]
ByOption = Annotated[str | None, typer.Option("--by", help="Who acts (the journal records it; default: your user).")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (the journal records it).")]


def register(app: typer.Typer) -> None:
    app.command("emergency-stop")(emergency_stop)
    app.command("flatten")(flatten)
    app.command("status")(status)
    app.command("reset")(reset)
    strategy = typer.Typer(help="Turn one strategy off or back on (enable needs the control token).")
    strategy.command("disable")(strategy_disable)
    strategy.command("enable")(strategy_enable)
    app.add_typer(strategy, name="strategy")


def emergency_stop(url: UrlOption = None, config: ConfigOption = PAPER_CONFIG, by: ByOption = None,
                   reason: ReasonOption = None) -> None:  # fmt: skip
    """Stop every new entry at once (working entries cancelled, exits keep running) until `odte reset`."""
    result = _post(config, url, "/live/emergency-stop", _who(by, reason))
    cancelled = result.get("cancelled_entries") or []
    console.print(
        f"[bold red]EMERGENCY STOP engaged[/] at {result.get('time', '')} by {escape(str(result.get('by')))}:"
        f" {escape(str(result.get('reason')))}; {len(cancelled)} working entr{'y' if len(cancelled) == 1 else 'ies'}"
        " cancelled. Exits keep running; `odte reset` (with the token) resumes."
    )
    if result.get("via") == "store":
        console.print(f"[yellow]{escape(str(result.get('note')))}[/]")


def flatten(
    url: UrlOption = None,
    config: ConfigOption = PAPER_CONFIG,
    stop: Annotated[
        bool, typer.Option("--stop/--no-stop", help="Engage the emergency stop too (default), or leave entries open.")
    ] = True,
    by: ByOption = None,
    reason: ReasonOption = None,
) -> None:
    """Cancel every working entry and close every package as a package (and every other position); new entries
    stop too (the emergency stop) unless --no-stop."""
    result = _post(config, url, "/live/flatten", {**_who(by, reason), "stop": stop})
    packages, positions = result.get("packages") or [], result.get("positions") or []
    console.print(
        f"flatten: {len(result.get('cancelled_entries') or [])} working entries cancelled, {len(packages)}"
        f" package(s) and {len(positions)} other position(s) closing"
    )
    for package in packages:
        console.print(f"  {package['strategy']} {package['package']} x{package['quantity']}: {package['exit']}")
    for position in positions:
        console.print(f"  {position['strategy']} {position['instrument']} {position['quantity']:+d}")
    if stop:
        console.print("new entries are stopped (the emergency stop): `odte reset` with the token resumes")
    else:
        console.print("[yellow]new entries are not stopped (--no-stop)[/]")


def status(
    url: UrlOption = None,
    config: ConfigOption = PAPER_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="The whole status as JSON.")] = False,
) -> None:
    """The node's risk state, P&L, strategies, packages and limits."""
    result = _request(config, url, "GET", "/live/status", None)
    if as_json:
        console.print_json(data=result)
        return
    risk, pnl = result.get("risk") or {}, result.get("pnl") or {}
    if not risk:
        console.print(f"node: {result.get('node')} {escape(str(result.get('error', '')))}")
        return
    console.print(f"[bold]{risk['state']}[/] at {result['time']} ({result['trading_date']})")
    for key, label in (("kill_switch", "kill switch"), ("global_breaker", "RISK-OFF breaker"), ("day_locked", "lock")):
        if risk.get(key):
            why = risk.get(f"{key}_reason") or risk.get("lock_reason") or ""
            console.print(f"  {label}: {escape(str(why))}")
    console.print(
        f"  day P&L {pnl['day']:,.2f} (realized {pnl['realized']:,.2f}); trades {risk['trades_today']}"
        f"/{risk['max_trades_per_day']}; ladder {risk['ladder']['stage']}; streak {risk['streak']['losses']}"
    )
    table = Table("strategy", "state", "day P&L", "trades", "packages")
    for sid, s in (result.get("strategies") or {}).items():
        table.add_row(sid, s["state"], f"{s['day_pnl']:,.2f}", str(s["trades_today"]), str(s["packages"]))
    console.print(table)
    for p in result.get("packages") or []:
        legs = " ".join(f"{leg['ratio']:+d} {leg['strike']:g}{leg['right']}" for leg in p["legs"])
        console.print(
            f"  {p['package']} {p['state']} x{p['quantity']} mark {p['mark']} P&L {p['unrealized_pnl']}: {legs}"
        )


def reset(url: UrlOption = None, config: ConfigOption = PAPER_CONFIG, by: ByOption = None,
          reason: ReasonOption = None) -> None:  # fmt: skip
    """Reset the kill switch and the RISK-OFF breaker (needs the control token): trading may resume."""
    result = _post(config, url, "/live/reset", _who(by, reason), token=True)
    console.print(
        f"reset by {escape(str(result.get('by')))}: kill switch was {_on(result.get('kill_switch_was_on'))},"
        f" RISK-OFF breaker was {_on(result.get('global_breaker_was_on'))}"
    )
    still = result.get("still_refusing") or {}
    if still.get("day_locked"):
        console.print(f"[yellow]the day stays locked: {escape(str(still['day_locked']))}[/]")
    for key in ("strategy_breakers", "disabled_strategies"):
        if still.get(key):
            console.print(f"[yellow]{key.replace('_', ' ')}: {', '.join(still[key])}[/]")


def strategy_disable(strategy_id: Annotated[str, typer.Argument(help="e.g. ThetaHarvester-001")],
                     url: UrlOption = None, config: ConfigOption = PAPER_CONFIG, by: ByOption = None,
                     reason: ReasonOption = None) -> None:  # fmt: skip
    """Turn a strategy off: its entries are refused and its working entries cancelled; exits keep running."""
    result = _post(config, url, f"/live/strategies/{strategy_id}/disable", _who(by, reason))
    console.print(
        f"{result['strategy']} disabled; {len(result.get('cancelled_entries') or [])} working entries cancelled"
    )


def strategy_enable(strategy_id: Annotated[str, typer.Argument(help="e.g. ThetaHarvester-001")],
                    url: UrlOption = None, config: ConfigOption = PAPER_CONFIG, by: ByOption = None,
                    reason: ReasonOption = None) -> None:  # fmt: skip
    """Turn a strategy back on (needs the control token)."""
    result = _post(config, url, f"/live/strategies/{strategy_id}/enable", _who(by, reason), token=True)
    console.print(f"{result['strategy']} enabled")


def _on(flag: object) -> str:
    return "on" if flag else "off"


# -- HTTP ---------------------------------------------------------------------------------------------


def _who(by: str | None, reason: str | None) -> dict[str, str]:
    body = {"by": by or f"cli ({os.environ.get('USER') or 'unknown user'})"}
    if reason:
        body["reason"] = reason
    return body


def _control(config: Path) -> ControlSettings:
    if not config.is_file():
        return ControlSettings()
    try:
        return load_settings(config).control
    except SettingsError as exc:
        _fail(str(exc), REFUSED_EXIT)


def _base_url(config: Path, url: str | None) -> str:
    if url:
        return url.rstrip("/")
    control = _control(config)
    host = "127.0.0.1" if control.host in ("0.0.0.0", "::") else control.host
    return f"http://{f'[{host}]' if ':' in host else host}:{control.port or 8000}"


def _post(config: Path, url: str | None, path: str, body: dict[str, Any], token: bool = False) -> dict[str, Any]:
    return _request(config, url, "POST", path, body, token)


def _request(
    config: Path, url: str | None, method: str, path: str, body: dict[str, Any] | None, token: bool = False
) -> dict[str, Any]:
    base = _base_url(config, url)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    control = _control(config)
    secret = environment().get(control.token_env)
    if secret:
        headers["X-Odte-Token"] = secret
    elif token:
        _fail(f"this action needs the control token: set {control.token_env} (the environment or .env.local)", 1)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}").get("error") or exc.reason
        except ValueError:
            detail = exc.reason
        _fail(f"the node refused ({exc.code}): {detail}", REFUSED_EXIT)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        _fail(
            f"no node is running at {base} ({reason}). Start one with `odte live`, or pass --url or --config"
            " for a node elsewhere.",
            NO_NODE_EXIT,
        )


def _fail(message: str, code: int) -> NoReturn:
    errors.print(f"[red]{escape(message)}[/]")
    raise typer.Exit(code)
