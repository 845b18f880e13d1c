"""The kill switch: cancels every open order, flattens every position on request, persists across restarts
(the database, SQLite or PostgreSQL, and the audit trail) and needs an explicit re-arm."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from traderbot.brokers.sim.costs import VenueConfig
from traderbot.data.series import BarSeries
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import generic_instrument
from traderbot.model.order import Order
from traderbot.risk.states import TradingState, TradingStates
from traderbot.store.db import open_engine
from traderbot.store.state_store import SqlStateStore

PAIRS = [f"X{n:02d}" for n in range(50)]


def book(states: TradingStates | None = None, positions: int = 50) -> Kernel:
    """A kernel on the simulated venue (fills at the close) with `positions` open positions and open limits."""
    k = Kernel(starting_cash=D(10_000_000), venue=VenueConfig(fill_on="close"), trading_states=states)
    ts = pd.date_range("2024-01-02", periods=3, freq="1h", tz="UTC").as_unit("ns").asi8
    px = np.array([100.0, 101.0, 102.0])
    for n, iid in enumerate(PAIRS[:positions]):
        idx = k.add_data(
            generic_instrument(iid, lot_size=D(1)), BarSeries.from_arrays(iid, "1h", ts, px, px, px, px)
        )
        k.cache.visible[idx] = 3
        k.cache.now_ns = int(ts[-1])
        side = OrderSide.BUY if n % 2 == 0 else OrderSide.SELL
        k.send(Order(f"O-TB-S-{n:04d}", iid, "S", side, OrderType.MARKET, D(10 + n), 0))
        k.send(Order(f"O-TB-S-L{n:04d}", iid, "S", OrderSide.BUY, OrderType.LIMIT, D(5), 0, price=D(50)))
    return k


def test_engage_cancels_everything_and_flattens_every_position() -> None:
    k = book()
    assert len(k.portfolio._open) == 50 and len(k.cache.open_ids) == 50
    report = k.kill_switch.engage(actor="alice", reason="runaway strategy", flatten=True)
    assert len(report.canceled) == 50 and len(report.flatten_orders) == 50 and report.denied == []
    assert not k.cache.open_ids
    assert all(k.portfolio.net_quantity(i) == 0 for i in PAIRS)
    assert all(k.cache.orders[c].status is OrderStatus.CANCELED for c in report.canceled)
    assert k.risk.state is TradingState.HALTED
    late = Order("O-TB-S-9999", "X00", "S", OrderSide.BUY, OrderType.MARKET, D(1), 0)
    assert k.risk.check(late) == "KILL_SWITCH_ENGAGED: re-arm it first (traderbot risk rearm --reason ...)"


def test_without_flatten_positions_stay_and_nothing_new_goes_out() -> None:
    k = book(positions=3)
    report = k.kill_switch.engage(actor="alice", reason="check the feed")
    assert report.flatten_orders == [] and len(report.canceled) == 3
    assert len(k.portfolio._open) == 3 and not k.cache.open_ids


def test_the_kill_switch_survives_a_restart_and_needs_an_explicit_rearm(any_db_url: str) -> None:
    engine = open_engine(any_db_url)
    k = book(TradingStates(SqlStateStore(engine, "TB")), positions=2)
    k.kill_switch.engage(actor="alice", reason="broker incident", flatten=True)

    restarted = book(TradingStates(SqlStateStore(engine, "TB")), positions=0)
    assert restarted.kill_switch.engaged and restarted.risk.state is TradingState.HALTED
    with pytest.raises(UserError, match="kill switch is engaged: re-arm it first"):
        restarted.risk.states.set("system", TradingState.ACTIVE, actor="bob", reason="looks fine")
    with pytest.raises(UserError, match="needs who"):
        restarted.kill_switch.rearm(actor="bob", reason="")
    restarted.kill_switch.rearm(actor="bob", reason="incident closed")
    assert restarted.risk.state is TradingState.ACTIVE and not restarted.kill_switch.engaged

    again = book(TradingStates(SqlStateStore(engine, "TB")), positions=0)
    assert not again.kill_switch.engaged and again.risk.state is TradingState.ACTIVE
    trail = [(c.scope, c.new.value, c.actor) for c in SqlStateStore(engine, "TB").history()]
    assert trail == [
        ("kill_switch", "halted", "alice"),
        ("system", "halted", "alice"),
        ("kill_switch", "active", "bob"),
        ("system", "active", "bob"),
    ]
    with pytest.raises(UserError, match="not engaged"):
        again.kill_switch.rearm(actor="bob", reason="twice")
    engine.dispose()
