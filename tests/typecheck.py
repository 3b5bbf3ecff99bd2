"""Run mypy over the project as it is installed, and report against the files in this checkout.

pyproject.toml installs the folders ``risk/`` and ``strategies/`` as ``odte_nautilus.risk`` and
``odte_nautilus.strategies`` ([tool.setuptools.package-dir]). The editable install maps them with an import
hook that mypy cannot follow, and mypy has no setting that maps a folder to another package name. So this
script lays the installed layout out as a tree of symbolic links in ``build/typecheck/`` (read from
package-dir, rebuilt on every run so that a new module is seen at once; nothing is installed or copied),
runs mypy there with the ``[tool.mypy]`` settings of pyproject.toml, and prints mypy's findings with the
real paths (``risk/book.py``, not ``odte_nautilus/risk/book.py``). Exit status: mypy's.

    python tests/typecheck.py                      # the package (risk/, strategies/ too), tests, benchmarks
    python tests/typecheck.py --warn-unreachable   # the same with more mypy options
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
CACHE = ROOT / "build" / "mypy-cache"  # outside the tree, which is rebuilt on every run
TARGETS = ["-p", "odte_nautilus", "-p", "tests", "-p", "benchmarks"]
EXTRA_TOP_LEVEL = ["tests", "benchmarks"]  # checked too, found as they are in the checkout


def _unfold(path: Path) -> None:
    """Turn a link to a directory into a real directory of links to its entries, so one can be replaced."""
    if path.is_symlink():
        source = path.resolve()
        path.unlink()
        path.mkdir()
        for entry in source.iterdir():
            if entry.name != "__pycache__":
                (path / entry.name).symlink_to(entry)


def build_tree() -> None:
    package_dir: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    shutil.rmtree(TREE, ignore_errors=True)
    TREE.mkdir(parents=True)
    for name in EXTRA_TOP_LEVEL:
        (TREE / name).symlink_to(ROOT / name)
    for package in sorted(package_dir, key=lambda p: p.count(".")):  # parents before the packages inside them
        *parents, leaf = package.split(".")
        where = TREE
        for part in parents:
            where = where / part
            _unfold(where)
        target = where / leaf
        if target.is_symlink():
            target.unlink()
        target.symlink_to(ROOT / package_dir[package])


def real_path(match: re.Match[str]) -> str:
    return os.path.relpath((TREE / match.group(1)).resolve(), ROOT)


def main(argv: list[str]) -> int:
    build_tree()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(CACHE), *argv, *TARGETS]
    done = subprocess.run(command, cwd=TREE, capture_output=True, text=True)
    sys.stdout.write(re.sub(r"^([^\s:]+\.pyi?)(?=:)", real_path, done.stdout, flags=re.MULTILINE))
    sys.stderr.write(done.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
