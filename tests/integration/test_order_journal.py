"""The order journal: intent committed before any venue call, state kept in step, ids unique across restarts.

Every test runs on a SQLite file and on PostgreSQL (a fresh database on 127.0.0.1:5432 per test).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, text

from traderbot.brokers.sim.venue import SimulatedVenue
from traderbot.core.messages import OrderFilled
from traderbot.data.series import BarSeries
from traderbot.data.stores import sample_store
from traderbot.errors import UserError
from traderbot.kernel.kernel import Kernel
from traderbot.model.enums import OrderSide, OrderStatus, OrderType
from traderbot.model.instrument import get_instrument
from traderbot.model.order import Order
from traderbot.risk.sizing import Sizing
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal
from traderbot.store.models import OrderRecord
from traderbot.strategies.sma_cross import SmaCross


@pytest.fixture
def db_url(any_db_url: str) -> str:
    """SQLite and a fresh PostgreSQL database (tests/conftest.py)."""
    return any_db_url


def _kernel(engine: Engine, bars: int = 1500) -> Kernel:
    df = sample_store().read("EURUSD", "15m").iloc[:bars]
    k = Kernel(journal=SqlOrderJournal(engine, "TB"))
    k.finite_replay = True
    k.add_data(get_instrument("EURUSD"), BarSeries.from_frame(df, "EURUSD", "15m"))
    k.add_strategy(SmaCross(fast=5, slow=20), "EURUSD", Sizing.parse("units:1000"))
    return k


def test_every_order_is_stored_with_its_final_state_exactly(db_url: str) -> None:
    engine = open_engine(db_url)
    k = _kernel(engine)
    k.run()
    live = {o.client_order_id: o for o in k.cache.orders.values()}
    assert len(live) > 20
    reloaded = {o.client_order_id: o for o in SqlOrderJournal(open_engine(db_url), "TB").load()}
    assert reloaded.keys() == live.keys()
    for oid, o in live.items():
        r = reloaded[oid]
        assert (r.status, r.quantity, r.filled_qty, r.filled_cost, r.venue_order_id) == (
            o.status,
            o.quantity,
            o.filled_qty,
            o.filled_cost,
            o.venue_order_id,
        )
    assert all(o.status is OrderStatus.FILLED for o in reloaded.values())


class _ProbeVenue(SimulatedVenue):
    """Looks in the database (on its own connection) at the moment the venue is asked to send."""

    probe_engine: Engine
    seen: list[str | None]

    def submit(self, order: Order) -> None:
        with self.probe_engine.connect() as conn:
            status = conn.execute(
                select(OrderRecord.status).where(OrderRecord.client_order_id == order.client_order_id)
            ).scalar_one_or_none()
        self.seen.append(status)
        super().submit(order)


def test_intent_is_committed_before_the_venue_is_called(db_url: str) -> None:
    engine = open_engine(db_url)
    k = _kernel(engine, bars=600)
    probe = _ProbeVenue(k.cache, k.portfolio, k.venue.config, k.execution.on_event)
    probe.probe_engine, probe.seen = open_engine(db_url), []
    k.venue = k.execution.venue = probe
    k.run()
    assert len(probe.seen) > 5
    assert set(probe.seen) == {"submitted"}  # committed and visible to another connection before the send


def test_client_order_ids_never_repeat_after_a_restart(db_url: str) -> None:
    first = _kernel(open_engine(db_url), bars=800)
    first.run()
    second = _kernel(open_engine(db_url), bars=800)  # a restarted process on the same database
    second.run()
    a, b = set(first.cache.orders), set(second.cache.orders)
    assert a and b and not a & b
    with open_engine(db_url).connect() as conn:
        stored = conn.execute(select(OrderRecord.client_order_id)).scalars().all()
    assert len(stored) == len(set(stored)) == len(a) + len(b)


def test_an_order_the_journal_cannot_store_is_rejected_and_never_sent(db_url: str) -> None:
    engine = open_engine(db_url)
    k = _kernel(engine, bars=300)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE orders"))  # the database now refuses every write
    k.run()
    orders = list(k.cache.orders.values())
    assert orders and all(o.status is OrderStatus.REJECTED for o in orders)
    assert all(o.reason.startswith("JOURNAL_WRITE_FAILED") for o in orders)
    assert not k.cache.fills and k.portfolio.balance == Decimal(10_000)


def test_a_bad_database_url_is_one_clear_error() -> None:
    with pytest.raises(UserError, match="database URL 'nosuch://x' is not usable"):
        open_engine("nosuch://x")


def test_write_behind_commits_updates_and_fills_with_the_next_intent(db_url: str) -> None:
    engine = open_engine(db_url)
    fast = SqlOrderJournal(engine, "TB", write_behind=True)
    reader = SqlOrderJournal(engine, "TB")
    a = Order("O-TB-S-000001", "EURUSD", "S", OrderSide.BUY, OrderType.MARKET, Decimal(1000), 1)
    a.status = OrderStatus.SUBMITTED
    fast.record(a)
    a.apply_fill("T1", Decimal(400), Decimal("1.10001"))
    fill = OrderFilled(
        a.client_order_id,
        "EURUSD",
        "S",
        2,
        trade_id="T1",
        side="buy",
        quantity=Decimal(400),
        price=Decimal("1.10001"),
    )
    fast.fill(a, fill)
    assert reader.load()[0].filled_qty == 0 and reader.load_fills() == []  # buffered, not yet committed
    b = Order("O-TB-S-000002", "EURUSD", "S", OrderSide.SELL, OrderType.MARKET, Decimal(5), 3)
    b.status = OrderStatus.SUBMITTED
    fast.record(b)  # the intent carries the buffered fill in the same commit
    stored = {o.client_order_id: o for o in reader.load()}
    assert stored[a.client_order_id].filled_qty == 400
    assert stored[a.client_order_id].filled_cost == Decimal("440.00400")
    assert [f.trade_id for f in reader.load_fills()] == ["T1"]
    a.apply_fill("T2", Decimal(600), Decimal("1.10002"))
    fast.fill(a, fill._replace(trade_id="T2", quantity=Decimal(600), price=Decimal("1.10002")))
    fast.flush()
    assert {o.client_order_id: o for o in reader.load()}[a.client_order_id].status is OrderStatus.FILLED
    assert [f.quantity for f in reader.load_fills()] == [Decimal(400), Decimal(600)]
    engine.dispose()
