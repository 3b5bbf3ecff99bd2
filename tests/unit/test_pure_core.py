"""design §2: the pure core imports nothing from Nautilus.

The kernel, the ladder, the stops, the package state machine and the durable state must stay plain
values in, a decision out: fast, property-testable, and unchanged by the Nautilus v2 port. Glue that has
to touch Nautilus (a future ``risk/engine_gate.py``, say) is listed in ``GLUE`` by name, so every
exception is a reviewed line in this file rather than a silent drift.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_DIRS = ("risk", "odte_nautilus/execution")
GLUE: frozenset[str] = frozenset()  # paths relative to ROOT that may import nautilus_trader (none yet)
FORBIDDEN = "nautilus_trader"

PURE_FILES = sorted(
    path.relative_to(ROOT).as_posix()
    for folder in PURE_DIRS
    for path in (ROOT / folder).rglob("*.py")
    if path.relative_to(ROOT).as_posix() not in GLUE
)


def nautilus_imports(source: str) -> list[str]:
    """Every ``import nautilus_trader...`` / ``from nautilus_trader... import`` in a module, nested or not."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == FORBIDDEN]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == FORBIDDEN
        ):
            found.append(node.module)
    return found


def test_the_scan_finds_nautilus_imports() -> None:
    source = "import os\nfrom nautilus_trader.model import X\ndef f():\n    import nautilus_trader.core as c\n"
    assert nautilus_imports(source) == ["nautilus_trader.model", "nautilus_trader.core"]
    assert nautilus_imports("from odte_nautilus.risk.model import Intent\n") == []


def test_the_pure_core_has_modules_to_check() -> None:
    assert "risk/kernel.py" in PURE_FILES and "risk/rules/invariants.py" in PURE_FILES


@pytest.mark.parametrize("path", PURE_FILES)
def test_pure_core_module_does_not_import_nautilus(path: str) -> None:
    assert nautilus_imports((ROOT / path).read_text()) == [], f"{path} imports Nautilus: move that code to glue"


def test_importing_the_kernel_does_not_load_nautilus() -> None:
    """Catches an indirect import too (a pure module importing glue that imports Nautilus)."""
    modules = ", ".join(f"odte_nautilus.risk.{name}" for name in ("kernel", "rules", "ladder", "rate_limits", "policy"))
    code = f"import sys, {modules}; print(any(m.split('.')[0] == '{FORBIDDEN}' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
