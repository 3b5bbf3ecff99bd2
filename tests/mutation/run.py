"""Mutation run over the gate and the safety rules (issue 7): which changes to the code do the tests miss?

    make mutate                                   # every file of DEFAULT_TABLE, 2 jobs
    .venv/bin/python tests/mutation/run.py risk/rules/invariants.py --limit 60 --function no_naked_short
    .venv/bin/python tests/mutation/run.py strategies/sizing.py --tests tests/unit/test_sizing.py

Our own runner, because mutmut cannot follow pyproject's ``package-dir`` mapping (``risk/`` and
``strategies/`` install as ``odte_nautilus.risk`` and ``odte_nautilus.strategies``):

1. The working tree (others edit it meanwhile) is copied once per job, without .venv, .git, runs, catalog.
2. The editable install *appends* a finder mapping ``odte_nautilus.risk`` to the checkout, so PYTHONPATH
   carries a generated ``sitecustomize.py`` whose finder comes *first* and maps the copy's package-dir
   table to the copy. No bytecode is written: a same-size mutant can never run from a stale ``.pyc``.
3. Per target, the baseline (the file round-tripped through ``ast.unparse``) must pass its tests and a
   canary (the file replaced by ``raise ImportError``) must fail them - else the tests do not load the
   copy and every mutant would "survive". Either check failing stops the run.
4. Each mutant is one ast change written over the copy's file, its tests run with ``-x``: a failure kills
   it, a pass lets it survive, a run past the timeout counts as killed (and is listed).
5. The report (per file, then each survivor as ``file:line: mutation`` for a test or a written reason)
   goes to stdout and ``runs/mutation/``.
"""

from __future__ import annotations

import argparse
import ast
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from glob import glob
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]

GATE_TESTS = [
    "tests/integration/test_engine_gate.py",
    "tests/integration/test_gate*.py",
    "tests/contract/*.py",
    "tests/integration/test_risk_events.py",
]

RULE_TESTS = [
    "tests/unit/test_rules_entry.py",
    "tests/unit/test_rules_exit.py",
    "tests/unit/test_kernel.py",
    "tests/unit/test_rules_worst_case.py",
]

# target file -> the pytest selection that covers it (globs; fastest first, since -x stops at the first failure)
DEFAULT_TABLE = {
    **dict.fromkeys(
        [f"risk/rules/{family}.py" for family in ("invariants", "session", "account", "breakers", "losses", "limits")],
        RULE_TESTS,
    ),
    "risk/exposure.py": ["tests/unit/test_rules_worst_case.py", "tests/property/test_exposure_properties.py"],
    "odte_nautilus/gate.py": GATE_TESTS,
    "odte_nautilus/node_exposure.py": GATE_TESTS,
    "odte_nautilus/node_books.py": GATE_TESTS,
    "odte_nautilus/node_guard.py": GATE_TESTS,
    "risk/ladder.py": [
        "tests/unit/test_ladder.py",
        "tests/unit/test_rules_entry.py",
        "tests/unit/test_book.py",
        "tests/property/test_risk_system_stateful.py",
    ],
    "risk/stops.py": ["tests/unit/test_stops.py", "tests/integration/test_strategy_stops.py"],
    "odte_nautilus/execution/fills.py": [
        "tests/unit/test_fill_routing.py",
        "tests/regression/test_incidents.py",
        "tests/property/test_fill_routing_stateful.py",
    ],
    "odte_nautilus/execution/package_fsm.py": [
        "tests/unit/test_package_fsm.py",
        "tests/unit/test_fill_routing.py",
        "tests/regression/test_incidents.py",
    ],
}

# Fixed hypothesis seed: the property tests then judge every mutant (and the baseline) on the same examples.
PYTEST = ["-m", "pytest", "-q", "-x", "--no-header", "--tb=line", "-p", "no:cacheprovider", "--hypothesis-seed=0"]
LEFT_BEHIND = {".venv", ".git", "runs", "state", "catalog", ".hypothesis", ".pytest_cache", "build", ".ruff_cache"}

SITECUSTOMIZE = '''"""Written by tests/mutation/run.py: load pyproject's package-dir from $MUTATION_ROOT, ahead of the
editable install's finder (which maps odte_nautilus.risk to the real checkout)."""
import os, sys, tomllib
from importlib.util import spec_from_file_location

_root = os.environ.get("MUTATION_ROOT")
if _root:
    with open(os.path.join(_root, "pyproject.toml"), "rb") as _f:
        _dirs = tomllib.load(_f)["tool"]["setuptools"]["package-dir"]

    class _CopyFinder:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name not in _dirs:
                return None  # submodules are found through the parent's __path__, which is the copy's
            pkg = os.path.join(_root, _dirs[name])
            return spec_from_file_location(name, os.path.join(pkg, "__init__.py"), submodule_search_locations=[pkg])

    sys.meta_path.insert(0, _CopyFinder)
'''

# --- mutations ---------------------------------------------------------------------------------------

# operators swapped both ways: comparisons, and/or, +/-
PAIRS = [
    (ast.Lt, "<", ast.LtE, "<="),
    (ast.Gt, ">", ast.GtE, ">="),
    (ast.Eq, "==", ast.NotEq, "!="),
    (ast.Is, "is", ast.IsNot, "is not"),
    (ast.In, "in", ast.NotIn, "not in"),
    (ast.And, "and", ast.Or, "or"),
    (ast.Add, "+", ast.Sub, "-"),
]
SWAPS = {a: b for a, _, b, _ in PAIRS} | {b: a for a, _, b, _ in PAIRS}
SYMBOL = {a: x for a, x, _, _ in PAIRS} | {b: y for _, _, b, y in PAIRS}
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
NOT_CODE = {"annotation", "returns", "type_comment", "type_params"}  # type annotations are not behaviour
SHOWN_ONLY = {"__repr__", "__str__"}


class Site(NamedTuple):
    line: int
    where: str  # the enclosing function, e.g. EngineGate._refusal
    what: str
    apply: Callable[[], object]


def is_log_call(node: ast.AST) -> bool:
    """Logging and printing: removing or changing them changes no decision, so they are not mutated."""
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr in LOG_METHODS) or (isinstance(f, ast.Name) and f.id == "print")


def returns_value(fn: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Return)
        and n.value is not None
        and not (isinstance(n.value, ast.Constant) and n.value.value is None)
        for n in ast.walk(fn)
    )


def sites(tree: ast.Module) -> list[Site]:
    """Every single-change mutation of ``tree``, in a fixed order (a mutant is an index into this list).

    ``apply`` performs the change on ``tree`` itself; ``put`` replaces a node in its parent."""
    found: list[Site] = []

    def visit(node: ast.AST, where: str, put: Callable[[ast.AST], None]) -> None:
        if isinstance(node, ast.JoinedStr) or is_log_call(node) or getattr(node, "name", "") in SHOWN_ONLY:
            return  # f-string contents, log messages, __repr__

        def add(what: str, apply: Callable[..., object], at: ast.AST = node) -> None:
            assert isinstance(at, ast.stmt | ast.expr), at  # what is mutated is a statement or an expression
            found.append(Site(at.lineno, where, what, apply))

        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            where = f"{where}.{node.name}" if where else node.name
            if not isinstance(node, ast.ClassDef) and returns_value(node):
                add(
                    "body -> return None (function/rule removed)",
                    lambda: setattr(node, "body", [ast.Return(ast.Constant(None))]),
                )
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    new = SWAPS[type(op)]
                    add(f"{SYMBOL[type(op)]} -> {SYMBOL[new]}", lambda i=i, new=new: node.ops.__setitem__(i, new()))
        elif isinstance(node, (ast.BoolOp, ast.BinOp, ast.AugAssign)) and type(node.op) in SWAPS:
            new, eq = SWAPS[type(node.op)], "=" if isinstance(node, ast.AugAssign) else ""
            add(f"{SYMBOL[type(node.op)]}{eq} -> {SYMBOL[new]}{eq}", lambda: setattr(node, "op", new()))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add("not x -> x", lambda: put(node.operand))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            add(f"{node.value} -> {not node.value}", lambda: setattr(node, "value", not node.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, int):
            for step in (1, -1):
                add(f"{node.value} -> {node.value + step}", lambda s=step: setattr(node, "value", node.value + s))
        elif isinstance(node, ast.Dict):  # a table's entry, e.g. one arrow of the package state machine
            for i, key in enumerate(node.keys):
                if key is not None:
                    add(f"entry removed: {ast.unparse(key)}", lambda i=i: (node.keys.pop(i), node.values.pop(i)), key)
        elif isinstance(node, (ast.Continue, ast.Break)):
            other = ast.Break if isinstance(node, ast.Continue) else ast.Continue
            add(f"{type(node).__name__.lower()} -> {other.__name__.lower()}", lambda: put(other()))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not is_log_call(node.value):
            add(f"call removed: {ast.unparse(node.value.func)}(...)", lambda: put(ast.Pass()))
        for field, value in ast.iter_fields(node):
            if field in NOT_CODE or (field == "decorator_list" and isinstance(node, ast.ClassDef)):
                continue  # annotations; a class's @dataclass(frozen=True, slots=True) declares, not decides
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        visit(item, where, partial(value.__setitem__, i))  # put(new): value[i] = new
            elif isinstance(value, ast.AST):
                visit(value, where, partial(setattr, node, field))  # put(new): node.<field> = new

    visit(tree, "", lambda new: None)
    return found


def mutant_source(source: str, index: int | None) -> str:
    """The file with mutation ``index`` applied (None: unmutated), unparsed back to source."""
    tree = ast.parse(source)
    if index is not None:
        sites(tree)[index].apply()
    return ast.unparse(ast.fix_missing_locations(tree))


# --- running -----------------------------------------------------------------------------------------


class Mutant(NamedTuple):
    file: str
    site: int  # the index into the file's sites()
    line: int
    where: str
    what: str
    code: str  # the original source line, to tell mutants on one line apart


def copy_tree(src: Path, dst: Path) -> Path:
    def top(d: str, names: list[str]) -> list[str]:
        return [
            n for n in names if n == "__pycache__" or n.endswith(".egg-info") or (Path(d) == src and n in LEFT_BEHIND)
        ]

    shutil.copytree(src, dst, ignore=top, symlinks=True)
    return dst


def run_tests(copy: Path, boot: Path, tests: list[str], timeout: float) -> int | None:
    """The selection's exit code in ``copy``, or None after a timeout (the whole process group is killed)."""
    env = {
        **os.environ,
        "MUTATION_ROOT": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(boot), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(
        [sys.executable, *PYTEST, *tests],
        cwd=copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def selection(copy: Path, patterns: list[str]) -> list[str]:
    """The test files the patterns match in ``copy``, in the patterns' order (missing ones drop out)."""
    found: list[str] = []
    for pattern in patterns:
        found += [p for p in sorted(glob(pattern, root_dir=copy)) if p not in found]
    return found


def check_baseline(copy: Path, boot: Path, file: str, tests: list[str]) -> float:
    """Seconds the unmutated selection takes; exits when it fails, or when the canary survives."""
    target, original = copy / file, (copy / file).read_text()
    try:
        target.write_text(mutant_source(original, None))
        start = time.monotonic()
        code = run_tests(copy, boot, tests, timeout=900)
        seconds = time.monotonic() - start
        if code != 0:
            sys.exit(
                f"baseline fails for {file} (pytest exit {code}); run: .venv/bin/python -m pytest -x "
                f"{' '.join(tests)}  - fix it (or wait for whoever is editing it) and retry"
            )
        target.write_text('raise ImportError("mutation canary")\n')
        if run_tests(copy, boot, tests, timeout=900) == 0:
            sys.exit(f"canary survived for {file}: {' '.join(tests)} do not import the copy's {file}")
    finally:
        target.write_text(original)
    return seconds


def run(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        boot = Path(tmp, "boot")
        boot.mkdir()
        (boot / "sitecustomize.py").write_text(SITECUSTOMIZE)
        snapshot = copy_tree(ROOT, Path(tmp, "job0"))
        copies = [snapshot] + [copy_tree(snapshot, Path(tmp, f"job{j}")) for j in range(1, args.jobs)]
        files = [Path(f).resolve().relative_to(ROOT).as_posix() for f in args.files] or list(DEFAULT_TABLE)
        table = {f: args.tests or DEFAULT_TABLE.get(f) for f in files}
        plan: list[Mutant] = []
        tests: dict[str, list[str]] = {}
        timeouts: dict[str, float] = {}
        for file, patterns in table.items():
            if not (snapshot / file).is_file():
                sys.exit(f"{file}: no such file in {ROOT}")
            if not patterns:
                sys.exit(f"{file}: not in the default table; name its tests with --tests")
            tests[file] = selection(snapshot, patterns)
            if not tests[file]:
                sys.exit(f"{file}: no test file matches {patterns}")
            source = (snapshot / file).read_text()
            lines = source.splitlines()
            found = [
                Mutant(file, i, s.line, s.where, s.what, lines[s.line - 1].strip()[:70])
                for i, s in enumerate(sites(ast.parse(source)))
            ]
            if args.function:
                found = [m for m in found if m.where.split(".")[-1] == args.function or m.where == args.function]
            if args.limit and len(found) > args.limit:
                found = sorted(random.Random(args.seed).sample(found, args.limit))
            seconds = check_baseline(snapshot, boot, file, tests[file])
            timeouts[file] = max(3 * seconds, seconds + 10)
            print(
                f"{file}: {len(found)} mutants, baseline {seconds:.1f} s, tests {' '.join(tests[file])}",
                file=sys.stderr,
            )
            plan += found

        free: queue.Queue[Path] = queue.Queue()  # the copies not in use: one per job
        for c in copies:
            free.put(c)
        done = 0

        def one(m: Mutant) -> str:
            nonlocal done
            copy = free.get()
            target = copy / m.file
            original = target.read_text()
            try:
                target.write_text(mutant_source(original, m.site))
                code = run_tests(copy, boot, tests[m.file], timeouts[m.file])
            finally:
                target.write_text(original)
                free.put(copy)
            outcome = "timeout" if code is None else "survived" if code == 0 else "killed"
            done += 1
            sys.stderr.write(f"[{done}/{len(plan)}] {outcome:8} {m.file}:{m.line}: {m.what}\n")
            return outcome

        with ThreadPoolExecutor(args.jobs) as pool:
            outcomes = list(pool.map(one, plan))
    return report(args, tests, plan, outcomes)


def report(args: argparse.Namespace, tests: dict[str, list[str]], plan: list[Mutant], outcomes: list[str]) -> str:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"mutation run {time.strftime('%Y-%m-%d %H:%M:%S')} on {head or '?'}"
        + (f", sample of {args.limit} per file (seed {args.seed})" if args.limit else "")
        + (f", function {args.function}" if args.function else ""),
        "",
        f"{'file':42} {'tried':>6} {'killed':>7} {'survived':>9} {'timeouts':>9} {'kill rate':>10}",
    ]
    for file in dict.fromkeys(m.file for m in plan):
        got = [o for m, o in zip(plan, outcomes, strict=True) if m.file == file]
        killed = got.count("killed") + got.count("timeout")
        rate = f"{100 * killed / len(got):.1f} %" if got else "-"
        lines.append(f"{file:42} {len(got):6} {killed:7} {got.count('survived'):9} {got.count('timeout'):9} {rate:>10}")
    survivors = sorted(
        (m for m, o in zip(plan, outcomes, strict=True) if o == "survived"), key=lambda m: (m.file, m.line)
    )
    lines += ["", "tests run per file (pytest -x):"] + [f"  {f}: {' '.join(sel)}" for f, sel in tests.items()]
    lines += ["", "killed includes timeouts. Survivors: add a test that kills each, or write why it is harmless.", ""]
    lines += [f"{m.file}:{m.line}: {m.what}  [{m.where or 'module'}]  | {m.code}" for m in survivors] or ["none"]
    lines += [
        f"{m.file}:{m.line}: timeout: {m.what}  | {m.code}"
        for m, o in zip(plan, outcomes, strict=True)
        if o == "timeout"
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", metavar="FILE", help="target files (default: the table in this script)")
    parser.add_argument("--tests", nargs="+", metavar="PATTERN", help="pytest files/globs for every FILE given")
    parser.add_argument("--jobs", type=int, default=2, help="parallel copies of the tree (default 2)")
    parser.add_argument("--limit", type=int, default=0, help="at most N mutants per file, a seeded sample")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--function", metavar="NAME", help="only mutants inside this function (or Class.method)")
    args = parser.parse_args()
    text = run(args)
    out = ROOT / "runs" / "mutation" / f"{time.strftime('%Y%m%d-%H%M%S')}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text + f"\nreport: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
