"""Trading states at system, strategy and pair level: the most restrictive wins, every change is audited."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.states import MemoryStateStore, TradingState, TradingStates


def _kernel(states: TradingStates | None = None) -> Kernel:
    k = Kernel(trading_states=states)
    for iid in ("EURUSD", "GBPUSD"):
        k.cache.instruments[iid] = get_instrument(iid)
    return k


def _order(iid: str = "EURUSD", sid: str = "S1", side: str = "buy") -> Order:
    return Order(f"O-{iid}-{sid}-{side}", iid, sid, OrderSide(side), OrderType.MARKET, D(1000), 0)


def test_a_halted_pair_stops_only_that_pair() -> None:
    k = _kernel()
    k.risk.states.set("pair:EURUSD", TradingState.HALTED, actor="ops", reason="news")
    assert k.risk.check(_order("EURUSD")) == "TRADING_HALTED: state=halted, scope=pair:EURUSD"
    assert k.risk.check(_order("GBPUSD")) is None


def test_a_reducing_strategy_stops_only_that_strategy_from_adding() -> None:
    k = _kernel()
    k.risk.states.set("strategy:S1", TradingState.REDUCING, actor="ops", reason="drawdown")
    assert k.risk.check(_order(sid="S1")) == "REDUCE_ONLY_STATE: state=reducing, scope=strategy:S1"
    assert k.risk.check(_order(sid="S2")) is None


def test_the_most_restrictive_of_the_three_levels_wins() -> None:
    k = _kernel()
    k.risk.states.set("system", TradingState.REDUCING, actor="ops", reason="x")
    k.risk.states.set("pair:EURUSD", TradingState.HALTED, actor="ops", reason="y")
    assert k.risk.states.effective("S1", "EURUSD") == (TradingState.HALTED, "pair:EURUSD")
    assert k.risk.states.effective("S1", "GBPUSD") == (TradingState.REDUCING, "system")


def test_every_change_is_audited_with_who_and_why_and_back_to_active_clears_it() -> None:
    store = MemoryStateStore()
    states = TradingStates(store, now_ns=lambda: 42)
    states.set("pair:EURUSD", TradingState.HALTED, actor="alice", reason="spread blew out")
    assert states.set("pair:EURUSD", TradingState.HALTED, actor="alice", reason="again") is None  # no change
    states.set("pair:EURUSD", TradingState.ACTIVE, actor="bob", reason="spread normal")
    assert [(c.scope, c.old, c.new, c.actor, c.reason, c.ts) for c in store.audit] == [
        ("pair:EURUSD", TradingState.ACTIVE, TradingState.HALTED, "alice", "spread blew out", 42),
        ("pair:EURUSD", TradingState.HALTED, TradingState.ACTIVE, "bob", "spread normal", 42),
    ]
    assert not states.restricted


@pytest.mark.parametrize(
    ("scope", "actor", "reason", "message"),
    [
        ("desk:FX", "ops", "why", "scope 'desk:FX' is not valid"),
        ("pair:", "ops", "why", "scope 'pair:' is not valid"),
        ("system", "", "why", "needs who (actor) and why (reason)"),
        ("system", "ops", " ", "needs who (actor) and why (reason)"),
    ],
)
def test_bad_changes_are_refused_with_one_sentence(scope: str, actor: str, reason: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TradingStates().set(scope, TradingState.HALTED, actor=actor, reason=reason)
