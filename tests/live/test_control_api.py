"""The control API against a real paper node (the Alpaca simulator in process, the real alpaca-py clients).

Seed 003's kill switch and manual override, through HTTP: the emergency stop exactly as ``curl -X POST``
sends it, durable across a restart of the risk book until an authorized reset; flatten closing packages as
packages; a strategy turned off and on; the status a trader reads; and who may do what (design §15).
"""

from __future__ import annotations

import hmac
import time

import httpx
import pytest
from nautilus_trader.model.enums import OrderStatus

from odte_nautilus.live.control import ControlConfigError, serve_control
from odte_nautilus.live.control import auth as auth_module
from odte_nautilus.risk.book import RiskBook
from tests.live.conftest import TOKEN
from tests.live.kit import LiveNode

THETA = "ThetaHarvester-001"


def entry_decisions(node: LiveNode, strategy: str) -> list[dict]:
    return [
        j
        for j in node.journal()
        if j["kind"] == "decision" and j["strategy"] == strategy and j["intent"]["kind"] == "entry"
    ]


def eventually(check, timeout: float = 10.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def hold_a_package(node: LiveNode) -> tuple[str, str]:
    assert node.run_until("11:30", stop_when=lambda: bool(node.held_packages())), "no package was entered"
    node.advance()  # the entry's fills and marks settle
    return node.held_packages()[0]


def test_emergency_stop_as_curl_sends_it_cancels_working_entries_refuses_the_next_and_survives_a_restart(node, http):
    node.run_until("09:45")
    resting = node.on_loop(node.manual.rest_iron_fly)
    node.wait_settled()
    assert resting.client_order_id.value in node.working_entries()

    stopped = http.post("/live/emergency-stop")  # no body, no headers: curl -X POST .../live/emergency-stop
    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["kill_switch"] is True and resting.client_order_id.value in body["cancelled_entries"]
    eventually(lambda: node.on_loop(lambda: resting.status) == OrderStatus.CANCELED, what="the entry's cancel")
    event = [j for j in node.journal() if j["kind"] == "kill_switch"][-1]
    assert event["on"] is True and event["by"].startswith("api (127.0.0.1)") and event["reason"] == "emergency stop"

    # The next entry, from anyone, is refused with the kill switch's reason; the strategy's first one too.
    node.on_loop(node.manual.rest_iron_fly)
    node.wait_settled()
    assert node.manual.denied and node.manual.denied[-1].startswith("KILL_SWITCH")
    node.run_until("10:10")
    refused = entry_decisions(node, THETA)
    assert refused and all(not d["decision"]["allowed"] for d in refused)
    assert {d["decision"]["code"] for d in refused} == {"KILL_SWITCH"}
    assert node.held_packages() == []

    # Durable: a new risk book on the same SQLite file (a restarted node) still finds the switch on.
    assert node.paper is not None
    paper = node.paper
    again = RiskBook(paper.policy, paper.book.store.path, node.run_dir / "restart.jsonl", nav=100_000.0)
    try:
        assert again.state(node.now_ns).kill_switch
    finally:
        again.close()
    assert http.get("/live/status").json()["risk"]["state"] == "STOPPED"


def test_reset_and_enable_need_the_token_compared_in_constant_time(node, http, monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    http.post("/live/emergency-stop", json={"by": "tester", "reason": "drill"})
    assert http.post("/live/reset").status_code == 401
    assert http.post("/live/reset", headers={"X-Odte-Token": "wrong"}).status_code == 403
    assert http.post(f"/live/strategies/{THETA}/enable").status_code == 401
    assert compared, "the token is compared with hmac.compare_digest"
    assert http.get("/live/status").json()["risk"]["kill_switch"] is True

    done = http.post("/live/reset", headers={"Authorization": f"Bearer {TOKEN}"}, json={"by": "tester"})
    assert done.status_code == 200 and done.json()["kill_switch_was_on"] is True
    assert http.get("/live/status").json()["risk"]["state"] == "ON"
    resets = [j for j in node.journal() if j["kind"] == "reset"]
    assert resets and resets[-1]["by"] == "tester" and resets[-1]["kill_switch"] is True


def test_without_a_configured_token_risk_increasing_actions_are_refused(node):
    assert node.paper is not None
    with (
        serve_control(node.paper, node.settings, env={}) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=15) as http,
    ):
        refused = http.post("/live/reset", headers={"X-Odte-Token": ""})
        assert refused.status_code == 403 and "ODTE_CONTROL_TOKEN" in refused.json()["error"]
        assert http.post("/live/emergency-stop").status_code == 200  # reducing risk needs nothing


def test_flatten_closes_each_package_as_one_order_with_all_its_legs(node, http):
    strategy, package = hold_a_package(node)
    assert node.sim is not None
    held_before = dict(node.sim.positions())
    assert len(held_before) == 4 and sorted(held_before.values()) == [-1, -1, 1, 1]

    done = http.post("/live/flatten", json={"by": "tester", "reason": "drill"})
    assert done.status_code == 200, done.text
    closing = done.json()["packages"]
    assert [(p["strategy"], p["package"]) for p in closing] == [(strategy, package)]
    assert len(closing[0]["legs"]) == 4
    for _ in range(5):
        if not node.held_packages():
            break
        node.advance()
    assert node.held_packages() == [] and node.sim.positions() == {}
    exit_order = node.sim.orders()[-1]
    assert len(exit_order["legs"]) == 4, "the package left as one order: its shorts never without their wings"
    exits = [
        j
        for j in node.journal()
        if j["kind"] == "decision" and j["intent"]["package"] == package and j["intent"]["kind"] == "exit"
    ]
    assert exits and {j["intent"]["exit_kind"] for j in exits} == {"manual"}
    status = http.get("/live/status").json()
    assert status["packages"] == [] and status["risk"]["state"] == "STOPPED"  # flat, and staying flat
    node.run_until("11:45")
    assert node.held_packages() == []


def test_a_disabled_strategy_enters_nothing_until_enabled_with_the_token(node, http):
    node.run_until("09:50")
    off = http.post(f"/live/strategies/{THETA}/disable", json={"by": "tester"})
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert http.get("/live/status").json()["strategies"][THETA]["state"] == "DISABLED"
    node.run_until("10:05")
    refused = entry_decisions(node, THETA)
    assert refused and {d["decision"]["code"] for d in refused} == {"STRATEGY_DISABLED"}

    assert http.post(f"/live/strategies/{THETA}/enable").status_code == 401
    on = http.post(f"/live/strategies/{THETA}/enable", headers={"X-Odte-Token": TOKEN})
    assert on.status_code == 200 and on.json()["enabled"] is True
    assert http.get("/live/status").json()["strategies"][THETA]["state"] == "ON"
    assert http.post("/live/strategies/NoSuch-001/disable").status_code == 404


def test_status_shows_packages_with_legs_marks_and_pnl_and_the_risk_state(node, http):
    strategy, package = hold_a_package(node)
    status = http.get("/live/status").json()
    assert status["node"] == "running"
    [held] = status["packages"]
    assert (held["strategy"], held["package"]) == (strategy, package)
    assert held["state"] == "OPEN" and held["quantity"] >= 1 and held["entry_price"] < 0  # a fly's credit
    assert len(held["legs"]) == 4 and all(leg["bid"] is not None and leg["ask"] is not None for leg in held["legs"])
    assert held["mark"] is not None and isinstance(held["unrealized_pnl"], float)
    risk = status["risk"]
    assert risk["state"] == "ON" and risk["trades_today"] == 1 and risk["max_trades_per_day"] >= 2
    assert risk["ladder"]["stage"] == "normal" and risk["streak"]["losses"] == 0
    assert status["rate_limits"]["packages_last_hour"] == 1 and status["rate_limits"]["packages_per_hour_total"]
    assert status["strategies"][strategy]["packages"] == 1 and status["strategies"][strategy]["state"] == "ON"
    assert status["guards"]["ok"] is True
    assert status["reconciliation"]["watch"] is True
    assert any(d["allowed"] and d["kind"] == "entry" for d in status["decisions"])
    assert status["pnl"]["day"] == pytest.approx(status["pnl"]["realized"] + status["pnl"]["unrealized"], abs=0.01)


def test_a_request_addressed_to_another_host_is_refused_on_loopback(http):
    assert http.get("/live/status", headers={"Host": "attacker.example"}).status_code == 403
    assert http.get("/live/status").status_code == 200


def test_binding_beyond_loopback_needs_the_flag_and_then_a_token_on_every_route(node):
    assert node.paper is not None
    remote = node.settings.control.model_copy(update={"host": "0.0.0.0"})
    with pytest.raises(ControlConfigError, match="allow_remote"):
        serve_control(node.paper, remote, env={"ODTE_CONTROL_TOKEN": TOKEN})
    allowed = remote.model_copy(update={"allow_remote": True})
    with pytest.raises(ControlConfigError, match="token on every route"):
        serve_control(node.paper, allowed, env={})


def test_beyond_loopback_every_route_needs_the_token(node, monkeypatch):
    """Remote mode's rules, served on loopback here (the tests never listen beyond 127.0.0.1)."""
    assert node.paper is not None
    remote = classmethod(lambda cls, host, token, allow, env: cls(host, token, remote=True))
    monkeypatch.setattr(auth_module.Access, "for_binding", remote)
    with (
        serve_control(node.paper, node.settings, env={"ODTE_CONTROL_TOKEN": TOKEN}) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=15) as http,
    ):
        assert http.get("/live/status").status_code == 401
        assert http.post("/live/emergency-stop").status_code == 401
        assert http.get("/", headers={"X-Odte-Token": "nope"}).status_code == 403
        assert http.get("/live/status", headers={"X-Odte-Token": TOKEN}).status_code == 200
        assert http.get(f"/?token={TOKEN}").status_code == 200


def test_when_the_nodes_loop_does_not_answer_the_stop_goes_to_the_durable_store(node, control, http):
    control.service.bridge.timeout = 0.3
    assert node.paper is not None
    loop = node.paper.node.get_event_loop()
    assert loop is not None
    loop.call_soon_threadsafe(time.sleep, 1.5)  # the node's loop is busy
    stopped = http.post("/live/emergency-stop", json={"reason": "loop stuck"})
    assert stopped.status_code == 202 and stopped.json()["via"] == "store"
    assert node.paper.book.store.load_day(node.paper.book.calendar.trading_date(node.now_ns)).kill_switch
    node.run_until("10:05")
    assert {d["decision"]["code"] for d in entry_decisions(node, THETA)} == {"KILL_SWITCH"}


def test_flatten_closes_a_manual_traders_shorts_before_their_wings(node, http):
    """Positions no package ledger owns (a person trading by hand) go leg by leg: a long only once no short of
    its group is left, so no short is ever uncovered on the way (the gate would refuse it anyway)."""
    node.run_until("10:20")
    assert node.sim is not None
    manual = node.manual
    filled = node.on_loop(lambda: manual.rest_iron_fly(credit=0.01))  # a credit the market beats: it fills
    node.wait_settled()
    eventually(lambda: node.on_loop(lambda: filled.status) == OrderStatus.FILLED, what="the manual fly's fill")
    mine = {s: q for s, q in node.sim.positions().items()}
    before = len(node.sim.orders())

    done = http.post("/live/flatten", json={"by": "tester"})
    assert done.status_code == 200, done.text
    first = done.json()["positions"]
    assert first and all(p["quantity"] < 0 for p in first), "the first round buys back the shorts only"
    for _ in range(10):  # the follow-up rounds (one a second) close the wings once the shorts are gone
        node.advance()
        if not any(q for s, q in node.sim.positions().items() if s in mine and q):
            break
        time.sleep(1.0)
    left = {s: q for s, q in node.sim.positions().items() if s in mine}
    assert not any(left.values()), f"still held: {left}"
    closes = [o for o in node.sim.orders()[before:] if o["order_class"] != "mleg" and o["symbol"]]
    intents = [o["position_intent"] for o in closes if o["symbol"] in mine]
    assert intents and intents.index("sell_to_close") > max(i for i, x in enumerate(intents) if x == "buy_to_close"), (
        f"a wing was sold before every short was bought back: {intents}"
    )
