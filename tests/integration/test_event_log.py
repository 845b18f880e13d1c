"""The event log on a SQLite file and on PostgreSQL: every order event and fill of a real backtest is logged in
publication order with exact money strings, nothing is written before flush(), big flushes are batched, a
refused batch is kept, and there is no way to change a row."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import Engine, event, func, select, text

from traderbot.core.bus import MessageBus
from traderbot.core.messages import OrderFilled
from traderbot.data.loader import load_ohlcv_file
from traderbot.data.series import BarSeries
from traderbot.kernel.kernel import Kernel
from traderbot.model.instrument import get_instrument
from traderbot.risk.sizing import Sizing
from traderbot.store.db import open_engine
from traderbot.store.event_log import EventLog, LoggedEvent, message_ts
from traderbot.store.event_models import EventLogRecord
from traderbot.strategies.sma_cross import SmaCross


class Tick(NamedTuple):
    ts_ns: int
    price: Decimal


class Note(NamedTuple):
    text: str


@pytest.fixture
def engine(any_db_url: str) -> Iterator[Engine]:
    e = open_engine(any_db_url)
    yield e
    e.dispose()


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EventLogRecord)).scalar_one())


def _read_all(log: EventLog, topic: str | None = None) -> list[LoggedEvent]:
    out: list[LoggedEvent] = []
    while page := log.read(since_id=out[-1].id if out else 0, topic=topic, limit=500):
        out.extend(page)
    return out


def test_a_backtest_logs_every_order_event_and_fill_in_order_with_exact_money(
    engine: Engine, shared_data_dir: Path
) -> None:
    df, _ = load_ohlcv_file(shared_data_dir / "oanda_fx_m15" / "EURUSD_15m.parquet", instrument="EURUSD")
    k = Kernel()
    k.finite_replay = True
    k.add_data(get_instrument("EURUSD"), BarSeries.from_frame(df.iloc[:3000], "EURUSD", "15m"))
    k.add_strategy(SmaCross(fast=5, slow=20), "EURUSD", Sizing.parse("units:1000"))
    log = EventLog(engine, "TB", k.bus, topics=("orders", "fills"))
    seen: list[tuple[str, Any]] = []  # what the bus delivered, in delivery order
    k.bus.subscribe("orders", lambda m: seen.append(("orders", m)))
    k.bus.subscribe("fills", lambda m: seen.append(("fills", m)))

    k.run()

    fills = [m for t, m in seen if t == "fills"]
    assert len(fills) > 20 and len(seen) >= 3 * len(fills)
    assert _rows(engine) == 0 and log.pending == len(seen)  # nothing is written until flush()
    assert log.flush() == len(seen) and log.pending == 0
    logged = _read_all(log)
    assert [(e.topic, e.type, e.ts) for e in logged] == [(t, type(m).__name__, m.ts) for t, m in seen]
    assert [e.id for e in logged] == sorted(e.id for e in logged)
    logged_fills = [e.payload for e in logged if e.topic == "fills"]
    for f, p in zip(fills, logged_fills, strict=True):
        assert (p["client_order_id"], p["side"], p["trade_id"]) == (f.client_order_id, f.side, f.trade_id)
        assert (p["quantity"], p["price"], p["commission"]) == (
            str(f.quantity),
            str(f.price),
            str(f.commission),
        )
        assert Decimal(p["price"]) == f.price and Decimal(p["quantity"]) == f.quantity
    assert {e.type for e in logged if e.topic == "orders"} >= {"OrderSubmitted", "OrderAccepted"}
    assert [e.id for e in _read_all(log, topic="fills")] == [e.id for e in logged if e.topic == "fills"]
    assert log.read(since_id=logged[-1].id) == []
    assert EventLog(engine, "OTHER").read() == []  # another trader's log is separate


def test_a_hundred_thousand_events_flush_in_one_transaction_per_batch(engine: Engine) -> None:
    bus = MessageBus()
    log = EventLog(engine, "TB", bus, topics=("ticks",), max_batch=2000)
    n = 100_000
    for i in range(n):
        bus.publish("ticks", Tick(i, Decimal(i) / 100_000))
    assert _rows(engine) == 0
    commits: list[int] = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    started = time.perf_counter()
    assert log.flush() == n
    elapsed = time.perf_counter() - started
    assert len(commits) == math.ceil(n / 2000) == 50
    assert _rows(engine) == n and log.written == n
    assert elapsed < 60, f"flushing {n} events took {elapsed:.1f} s"
    first, last = log.read(limit=1)[0], log.read(since_id=0, limit=n)[-1]
    assert (first.ts, first.payload) == (0, {"type": "Tick", "ts_ns": 0, "price": "0"})
    assert (last.ts, last.payload["price"]) == (n - 1, "0.99999")
    assert log.flush() == 0 and len(commits) == 50  # nothing pending: no transaction at all


def test_a_refused_batch_stays_queued_in_order_and_is_written_by_the_next_flush(engine: Engine) -> None:
    bus = MessageBus()
    log = EventLog(engine, "TB", bus, topics=("ticks",), max_batch=3)
    for i in range(5):
        bus.publish("ticks", Tick(i, Decimal("1.5")))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE event_log RENAME TO event_log_away"))
    with pytest.raises(Exception, match="event_log"):
        log.flush()
    assert log.pending == 5
    bus.publish("ticks", Tick(5, Decimal("2.5")))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE event_log_away RENAME TO event_log"))
    assert log.flush() == 6
    assert [e.ts for e in log.read()] == [0, 1, 2, 3, 4, 5]


def test_after_close_nothing_more_is_captured(engine: Engine) -> None:
    bus = MessageBus()
    log = EventLog(engine, "TB", bus, topics=("fills",))
    bus.publish("fills", OrderFilled("O-1", "EURUSD", "S", 7, price=Decimal("1.23450"), quantity=Decimal(3)))
    bus.publish("bars", Tick(1, Decimal(1)))  # not a logged topic
    log.close()
    bus.publish("fills", OrderFilled("O-2", "EURUSD", "S", 8))
    assert log.pending == 0 and not bus.has_subscribers("fills")
    (only,) = log.read()
    assert (only.ts, only.payload["price"], only.payload["quantity"]) == (7, "1.23450", "3")


def test_the_timestamp_is_the_messages_own_or_the_time_it_was_logged() -> None:
    assert message_ts(OrderFilled("O-1", "EURUSD", "S", 42)) == 42
    assert message_ts(Tick(43, Decimal(0))) == 43
    before = time.time_ns()
    stamped = message_ts(Note("hello"))
    assert before <= stamped <= time.time_ns()


def test_the_log_is_append_only() -> None:
    public = {name for name in dir(EventLog) if not name.startswith("_")}
    assert public == {"append", "attach", "close", "detach", "flush", "pending", "read"}
