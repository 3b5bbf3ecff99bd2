"""What the sweep asks of a runner (the local pool or Ray): run these specs, tell me what happens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from odte_nautilus.sweep.grid import RunSpec

# on_event(kind, run key, value), called in the driver's thread: ("start", key, pid), ("day", key, "2024-07-22"),
# ("done", key, row). Every spec handed to ``run`` ends with exactly one "done", failed or not.
OnEvent = Callable[[str, str, Any], None]


class Runner(Protocol):
    def describe(self) -> str: ...

    def run(self, specs: list[RunSpec], out: Path, on_event: OnEvent) -> None: ...
