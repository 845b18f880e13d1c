"""The OMS against a broker: timeouts are looked up before any resend, and reconciliation at start settles,
adopts and reports every difference. Real SQLite database, real asyncio tasks, the in-memory broker double."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakes.memory_broker import MemoryBroker

from traderbot.live.session import NotReconciled, SessionConfig, TradingSession
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order

EURUSD = get_instrument("EURUSD")


def _config(tmp_path: Path, **kw: object) -> SessionConfig:
    base: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'tb.db'}",
        "ack_timeout_s": 0.05,
        "reconcile_interval_s": 3600,
        "timer_interval_s": 0.002,
    }
    base.update(kw)
    return SessionConfig(**base)  # type: ignore[arg-type]


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


async def _session(broker: MemoryBroker, tmp_path: Path, **kw: object) -> TradingSession:
    s = TradingSession(broker, _config(tmp_path, **kw), [EURUSD])
    await s.start()
    return s


def test_a_timeout_is_looked_up_not_resent(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        broker.timeout_next = 1  # executed at the broker, but the answer is lost
        broker.quiet = True  # and the stream is silent: only the lookup can tell
        s = await _session(broker, tmp_path)
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(o)
        await until(lambda: o.status is OrderStatus.FILLED)
        assert o.trade_ids == {broker.fill_log[0].trade_id}  # the broker's own trade id, from fills()
        assert broker.submissions == {o.client_order_id: 1}
        assert o.filled_qty == 1000 and s.positions() == {"EURUSD": Decimal(1000)}
        assert s.kernel.execution.resubmitted == 0
        await s.stop()

    asyncio.run(run())


def test_a_lost_request_is_sent_again_after_the_lookup(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        broker.lose_next = 1  # never reached the broker
        s = await _session(broker, tmp_path)
        o = s.order("S1", "EURUSD", "sell", Decimal(2000))
        s.submit(o)
        await until(lambda: o.status is OrderStatus.FILLED)
        assert broker.submissions == {o.client_order_id: 1}
        assert s.kernel.execution.resubmitted == 1
        assert s.positions() == {"EURUSD": Decimal(-2000)}
        await s.stop()

    asyncio.run(run())


def test_no_ack_after_the_attempts_rejects_with_a_reason(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        broker.lose_next = 10
        s = await _session(broker, tmp_path, max_send_attempts=3)
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(o)
        await until(lambda: o.status is OrderStatus.REJECTED)
        assert o.reason.startswith("NO_ACK") and broker.submissions == {}
        assert s.kernel.execution.attempts[o.client_order_id] == 3
        await s.stop()

    asyncio.run(run())


def test_a_broker_refusal_is_a_rejection_with_its_code(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        broker.reject_next = 1
        s = await _session(broker, tmp_path)
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        s.submit(o)
        await until(lambda: o.status is OrderStatus.REJECTED)
        assert o.reason.startswith("INSUFFICIENT_MARGIN:")
        stored = {x.client_order_id: x for x in s.journal.load()}[o.client_order_id]
        assert stored.status is OrderStatus.REJECTED
        await s.stop()

    asyncio.run(run())


def test_restart_settles_what_happened_while_away_and_adopts_the_rest(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path)
        limit = s.order("S1", "EURUSD", "buy", Decimal(3000), type=OrderType.LIMIT, price=Decimal("1.09000"))
        s.submit(limit)
        await until(lambda: limit.status is OrderStatus.ACCEPTED)
        unsent = s.order("S1", "EURUSD", "buy", Decimal(1000))
        unsent.apply_fill  # noqa: B018 - the crash happens after the journal write, before the send:
        s.kernel.cache.orders[unsent.client_order_id] = unsent
        from traderbot.model.order_states import OrderEventKind

        unsent.apply(OrderEventKind.SUBMITTED)
        s.journal.record(unsent)
        await s.stop()

        # while we are away: the limit fills in two parts, someone trades by hand
        broker.fill(limit.client_order_id, Decimal(1000), Decimal("1.08990"))
        broker.fill(limit.client_order_id, Decimal(2000), Decimal("1.08980"))
        manual = Order("", "EURUSD", "", OrderSide.SELL, OrderType.MARKET, Decimal(500), 0)
        broker.place(manual, client_id="")
        hand_limit = Order(
            "", "EURUSD", "", OrderSide.SELL, OrderType.LIMIT, Decimal(700), 0, price=Decimal("1.2")
        )
        broker.place(hand_limit, client_id="")

        s2 = TradingSession(broker, _config(tmp_path), [EURUSD])
        report = await s2.start()
        kinds = sorted(d.kind for d in report.differences)
        assert kinds == ["not_sent", "order_adopted", "position_adopted", "settled"], report.summary()
        again = s2.kernel.cache.orders[limit.client_order_id]
        assert again.status is OrderStatus.FILLED and again.filled_qty == 3000
        assert again.avg_px == (Decimal("1.08990") * 1000 + Decimal("1.08980") * 2000) / 3000
        assert s2.kernel.cache.orders[unsent.client_order_id].reason.startswith("NOT_SENT")
        assert broker.submissions.get(unsent.client_order_id) is None
        assert s2.positions() == {"EURUSD": broker.position["EURUSD"]}
        ext = [o for o in s2.kernel.cache.orders.values() if o.external]
        assert len(ext) == 1 and ext[0].quantity == 700 and ext[0].is_open
        await s2.stop()

        # a third start finds nothing new, and positions come back from the stored fills
        s3 = TradingSession(broker, _config(tmp_path), [EURUSD])
        assert s3.positions() == {"EURUSD": broker.position["EURUSD"]}
        report = await s3.start()
        assert report.differences == [], report.summary()
        await s3.stop()

    asyncio.run(run())


def test_failed_reconciliation_blocks_every_order(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        broker.fail_queries = 1
        s = TradingSession(broker, _config(tmp_path), [EURUSD])
        with pytest.raises(NotReconciled, match=r"reconciliation failed .*503"):
            await s.start()
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) is None
        assert o.status is OrderStatus.DENIED and o.reason.startswith("RECONCILING:")
        assert broker.submissions == {}
        await s.stop()

    asyncio.run(run())


def test_periodic_run_adopts_a_position_difference_only_when_it_persists(tmp_path: Path) -> None:
    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path)
        broker.place(Order("", "EURUSD", "", OrderSide.BUY, OrderType.MARKET, Decimal(100), 0), client_id="")
        first = await s.reconcile("periodic", adopt_positions=False)
        assert [d.kind for d in first.differences] == ["position_mismatch"] and s.positions() == {}
        second = await s.reconcile("periodic", adopt_positions=False)
        assert [d.kind for d in second.differences] == ["position_adopted"]
        assert s.positions() == {"EURUSD": Decimal(100)}
        await s.stop()

    asyncio.run(run())


def test_bracket_exits_are_our_own_orders_and_one_filling_cancels_the_other(tmp_path: Path) -> None:
    from traderbot.model.order import Bracket, TakeProfit

    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path)
        entry = s.order("S1", "EURUSD", "buy", Decimal(1000))
        entry.bracket = Bracket(stop_loss=Decimal("1.09000"), take_profits=(TakeProfit(Decimal("1.11000")),))
        s.submit(entry)
        await until(lambda: len(s.kernel.cache.open_ids) == 2)  # entry filled; stop and take profit working
        exits = {o.type: o for o in s.kernel.cache.open_ids.values()}
        await until(lambda: all(o.status is OrderStatus.ACCEPTED for o in exits.values()))
        assert len(broker.orders) == 3  # the entry went out plain: no broker-native bracket on top
        broker.fill(exits[OrderType.LIMIT].client_order_id, Decimal(1000), Decimal("1.11000"))
        await until(lambda: exits[OrderType.STOP].status is OrderStatus.CANCELED)
        assert broker.orders[exits[OrderType.STOP].client_order_id].status is OrderStatus.CANCELED
        assert s.positions() == {} and broker.position["EURUSD"] == 0
        await s.stop()

    asyncio.run(run())


def test_execution_algorithms_work_the_same_through_a_broker(tmp_path: Path) -> None:
    from datetime import timedelta

    from traderbot.execution.algos import TWAP, Iceberg
    from traderbot.execution.algos.parent import AlgoStatus

    async def run() -> None:
        broker = MemoryBroker()
        s = await _session(broker, tmp_path)
        algos = s.kernel.algos
        twap = algos.submit(TWAP(timedelta(milliseconds=300), 3), strategy_id="S1", instrument_id="EURUSD",
                            side=OrderSide.BUY, quantity=3000, new_id=lambda: s._next_id("S1"))  # fmt: skip
        await until(lambda: twap.status is AlgoStatus.FILLED, timeout=10)
        assert twap.filled_qty == 3000 and twap.avg_px == broker.price and len(twap.child_ids) == 3
        assert all(broker.submissions[c] == 1 for c in twap.child_ids)
        assert s.positions() == {"EURUSD": Decimal(3000)}

        ice = algos.submit(Iceberg(Decimal(100), Decimal("1.05000")), strategy_id="S1", instrument_id="EURUSD",
                           side=OrderSide.BUY, quantity=500, new_id=lambda: s._next_id("S1"))  # fmt: skip
        await until(lambda: len(ice.child_ids) == 1 and ice.child_ids[0] in broker.orders)
        shown = ice.child_ids[0]
        assert broker.orders[shown].quantity == 100  # only the display quantity is visible at the broker
        algos.cancel(ice.parent_id)
        await until(lambda: broker.orders[shown].status is OrderStatus.CANCELED)
        assert ice.status is AlgoStatus.CANCELED
        await s.stop()

    asyncio.run(run())
