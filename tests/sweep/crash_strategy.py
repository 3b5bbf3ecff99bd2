"""A strategy whose worker process dies outright when it starts (``exit_code`` > 0): no exception, no row."""

from __future__ import annotations

import os

from nautilus_trader.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy


class DieConfig(StrategyConfig, frozen=True):
    exit_code: int = 0


class Die(Strategy):
    def on_start(self) -> None:
        if self.config.exit_code:
            os._exit(self.config.exit_code)  # as the OOM killer or a crash in native code would end it
