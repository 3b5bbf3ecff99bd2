"""The ``odte`` command line: one entry point, ``--help`` on every command (DESIGN "Interfaces")."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="odte",
    help="0DTE SPX/SPY/QQQ options on NautilusTrader: backtests, catalogs, the paper node and its risk controls.",
    no_args_is_help=True,
    add_completion=False,
)


def main() -> None:
    app()
