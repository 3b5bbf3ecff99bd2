"""What a run's record says of its risk state: the day its global breaker tripped (a person's reset needed)."""

from __future__ import annotations

import json

from odte_nautilus.sweep.execute import risk_off_from


def _journal(folder, *entries):
    (folder / "decisions.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def test_the_first_global_breaker_names_its_trading_day(tmp_path):
    _journal(
        tmp_path,
        {"kind": "decision", "ts_ns": 1, "reason": "the word breaker in a decision is not a breaker"},
        {"kind": "breaker", "ts_ns": 1721850300000000001, "breaker": "strategy", "strategy": "X"},
        {"kind": "breaker", "ts_ns": 1722882180000000001, "breaker": "global"},  # 2024-08-05 14:23 New York
        {"kind": "breaker", "ts_ns": 1723000000000000000, "breaker": "global"},
    )
    assert risk_off_from(tmp_path) == "2024-08-05"


def test_no_global_breaker_is_none(tmp_path):
    _journal(tmp_path, {"kind": "breaker", "ts_ns": 1721850300000000001, "breaker": "strategy", "strategy": "X"})
    assert risk_off_from(tmp_path) is None
