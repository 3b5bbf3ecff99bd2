"""The kernel in Nautilus's command path: a real BacktestEngine, real orders, real OrderDenied events."""

from __future__ import annotations

import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.objects import Price, Quantity

from odte_nautilus.gate import EngineGate
from odte_nautilus.orders import package_tags
from odte_nautilus.risk.book import RiskBook
from odte_nautilus.risk.model import ExitKind
from odte_nautilus.risk.policy import load_policy
from tests.engine_kit import Scripted, engine, index, minute_quotes, option, send_raw, spread

C, P = option("C", 5100), option("P", 5100)
CW, PW = option("C", 5120), option("P", 5080)
FLY = spread([(C, -1), (P, -1), (CW, 1), (PW, 1)])
STRADDLE = spread([(C, 1), (P, 1)])
BOOK = {C: (10.0, 10.2), P: (10.0, 10.2), CW: (2.0, 2.1), PW: (2.0, 2.1), FLY: (-12.4, -11.8), STRADDLE: (20.0, 20.4)}


@pytest.fixture
def book(tmp_path):
    b = RiskBook(load_policy("multi_strategy_paper"), tmp_path / "state.sqlite", tmp_path / "decisions.jsonl", nav=1e6)
    yield b
    b.close()


def run(book: RiskBook, script: dict, minutes: int = 6) -> tuple:
    eng = engine(index(), C, P, CW, PW, FLY, STRADDLE)
    gate = EngineGate(eng.kernel, book).install()
    strategy = Scripted(C.id, script)
    eng.add_strategy(strategy)
    eng.add_data(minute_quotes(BOOK, range(minutes)))
    eng.run()
    return eng, strategy, gate


def positions(eng) -> dict[str, float]:
    return {p.instrument_id.symbol.value: p.signed_qty for p in eng.cache.positions_open()}


def test_naked_short_from_a_strategy_becomes_order_denied_with_the_reason_code(book):
    eng, strategy, _ = run(book, {1: lambda s: s.limit(STRADDLE, OrderSide.SELL, 1, 20.0)})
    assert [d.reason.split(":")[0] for d in strategy.denied] == ["NO_NAKED_SHORT"]
    assert positions(eng) == {}


def test_covered_iron_butterfly_passes_the_gate_and_fills_into_leg_positions(book):
    eng, strategy, _ = run(book, {1: lambda s: s.limit(FLY, OrderSide.BUY, 1, -11.8)})
    assert strategy.denied == []
    assert positions(eng) == {
        C.id.symbol.value: -1.0,
        P.id.symbol.value: -1.0,
        CW.id.symbol.value: 1.0,
        PW.id.symbol.value: 1.0,
    }


def test_order_sent_straight_to_the_engine_bypassing_any_strategy_is_still_refused(book):
    """A manual command on the bus (no strategy ever asked the kernel) meets the same gate."""

    def manual_naked_call(s: Scripted) -> None:
        send_raw(
            s, s.order_factory.limit(C.id, OrderSide.SELL, Quantity.from_int(1), Price(10.0, 2)), "RiskEngine.execute"
        )

    eng, strategy, _ = run(book, {1: manual_naked_call})
    assert [d.reason.split(":")[0] for d in strategy.denied] == ["NO_NAKED_SHORT"]
    assert positions(eng) == {}


def test_kill_switch_refuses_entries_at_the_gate_but_lets_close_all_positions_through(book):
    def enter(s):
        s.limit(FLY, OrderSide.BUY, 1, -11.8, tags=package_tags("fly-1"))

    def kill_then_try_again_and_flatten(s):
        book.kill(by="test", reason="emergency stop", now_ns=s.clock.timestamp_ns())
        s.limit(FLY, OrderSide.BUY, 1, -11.8, tags=package_tags("fly-2"))
        s.close_all_positions(C.id)  # one leg, closed by Nautilus own helper

    eng, strategy, _ = run(book, {1: enter, 3: kill_then_try_again_and_flatten})
    assert [d.reason.split(":")[0] for d in strategy.denied] == ["KILL_SWITCH"]
    held = positions(eng)
    assert C.id.symbol.value not in held  # the close of the short call went through
    assert held[P.id.symbol.value] == -1.0  # ... and nothing else was touched


def test_closing_the_wings_before_the_body_is_refused_because_it_would_leave_a_naked_short(book):
    def sell_wings(s):
        s.limit(CW, OrderSide.SELL, 1, 2.0, tags=package_tags("fly-1", ExitKind.MANUAL))

    eng, strategy, _ = run(book, {1: lambda s: s.limit(FLY, OrderSide.BUY, 1, -11.8), 3: sell_wings})
    assert [d.reason.split(":")[0] for d in strategy.denied] == ["NO_NAKED_SHORT"]
    assert positions(eng)[CW.id.symbol.value] == 1.0


def test_every_gate_decision_is_journaled_with_its_source(book):
    run(book, {1: lambda s: s.limit(STRADDLE, OrderSide.SELL, 1, 20.0)})
    lines = [line for line in book.journal.path.read_text().splitlines() if '"decision"' in line]
    assert len(lines) == 1 and '"source": "gate"' in lines[0] and "NO_NAKED_SHORT" in lines[0]
