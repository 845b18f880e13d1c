"""Risk events reach the kernel bus on topic "risk": trading-state changes, locks set and cleared (also on a
lock book swapped in after the kernel was built, as the service does), denials and the kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.order import Order
from traderbot.risk.engine import Denial
from traderbot.risk.events import KillSwitchEngaged, KillSwitchRearmed
from traderbot.risk.locks import LockBook, LockEvent
from traderbot.risk.states import StateChange, TradingState


def _heard(k: Kernel) -> list[Any]:
    heard: list[Any] = []
    k.bus.subscribe("risk", heard.append)
    return heard


def test_states_locks_and_denials_are_published_on_the_risk_topic() -> None:
    k = Kernel()
    heard = _heard(k)
    k.risk.states.set("pair:EURUSD", TradingState.REDUCING, actor="ops", reason="news")
    k.risk.locks = LockBook(now_ns=lambda: 5)  # swapped in later: publishes too
    k.risk.locks.add("system", "manual", TradingState.HALTED, "drill", until_ns=None)
    k.risk.locks.clear("system", actor="ops", reason="drill over")
    order = Order(client_order_id="O-1", instrument_id="NOPE", strategy_id="S", side=OrderSide.BUY,
                  type=OrderType.MARKET, quantity=Decimal(1), ts_init=0)  # fmt: skip
    assert k.send(order) is None
    assert [type(m) for m in heard] == [StateChange, LockEvent, LockEvent, Denial]
    assert (heard[1].event, heard[1].lock.source, heard[2].event, heard[2].actor) == (
        "set",
        "manual",
        "cleared",
        "ops",
    )
    assert (heard[3].code, heard[3].client_order_id) == ("UNKNOWN_INSTRUMENT", "O-1")


def test_the_kill_switch_is_published_when_engaged_and_rearmed() -> None:
    k = Kernel()
    heard = _heard(k)
    k.kill_switch.engage(actor="ops", reason="incident", flatten=True)
    k.kill_switch.rearm(actor="ops", reason="resolved")
    kinds = [type(m).__name__ for m in heard]
    assert kinds == ["StateChange", "KillSwitchEngaged", "StateChange", "KillSwitchRearmed"]
    engaged, rearmed = heard[1], heard[3]
    assert isinstance(engaged, KillSwitchEngaged) and (engaged.reason, engaged.flatten) == ("incident", True)
    assert isinstance(rearmed, KillSwitchRearmed) and rearmed.reason == "resolved"


def test_nothing_is_published_without_listeners() -> None:
    k = Kernel()
    k.risk.states.set("system", TradingState.HALTED, actor="ops", reason="drill")
    assert k.bus.published == 0
