"""Risk state survives a restart: locks (with reason and until), manual overrides, stored denials and the kill
switch, all in the session's database (a SQLite file, and PostgreSQL), read back by a new session."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path

from tests.fakes.memory_broker import MemoryBroker

from traderbot.live.session import SessionConfig, TradingSession
from traderbot.model.instrument import get_instrument
from traderbot.risk.config import parse_risk_config
from traderbot.risk.states import TradingState
from traderbot.store.db import open_engine
from traderbot.store.risk_store import SqlRiskStore

EURUSD = get_instrument("EURUSD")
GBPUSD = get_instrument("GBPUSD")
HOUR = 3_600_000_000_000


def _session(broker: MemoryBroker, db: str, **kw: object) -> TradingSession:
    cfg = SessionConfig(database_url=db, reconcile_interval_s=3600, timer_interval_s=0.002)
    return TradingSession(broker, cfg, [EURUSD, GBPUSD], **kw)  # type: ignore[arg-type]


def test_locks_overrides_denials_and_the_kill_switch_survive_a_restart(any_db_url: str) -> None:
    db = any_db_url
    broker = MemoryBroker()
    until = time.time_ns() + HOUR

    async def first() -> str:
        s = _session(broker, db)
        await s.start()
        s.kernel.risk.locks.add("pair:EURUSD", "protection:daily_loss", TradingState.HALTED,
                                "daily loss 523.10 USD >= max 500 USD", until_ns=until)  # fmt: skip
        s.kernel.risk.overrides.add(
            "pair:EURUSD", "news", until_ns=until, actor="ops", reason="NFP priced in"
        )
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) is None and o.reason.startswith("PROTECTION_LOCK: protection:daily_loss")
        s.kernel.kill_switch.engage(actor="ops", reason="drill")
        await s.stop()
        return o.client_order_id

    denied_id = asyncio.run(first())

    async def second() -> None:
        s = _session(broker, db)
        await s.start()
        risk = s.kernel.risk
        (lock,) = risk.locks.active()
        assert (lock.scope, lock.source, lock.action, lock.until_ns) == (
            "pair:EURUSD", "protection:daily_loss", TradingState.HALTED, until,
        )  # fmt: skip
        assert lock.reason == "daily loss 523.10 USD >= max 500 USD"
        assert risk.overrides.bypassed("news", "S1", "EURUSD", time.time_ns())
        assert s.kernel.kill_switch.engaged
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) is None and o.reason.startswith("KILL_SWITCH_ENGAGED")
        s.kernel.kill_switch.rearm(actor="ops", reason="drill over")
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) is None and o.reason.startswith("PROTECTION_LOCK")  # the lock still holds
        risk.locks.clear("pair:EURUSD", actor="ops", reason="reviewed")
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) == o.client_order_id
        await s.stop()

    asyncio.run(second())
    store = SqlRiskStore(open_engine(db), "TB")
    denials = store.recent_denials()
    assert [d.code for d in denials] == ["PROTECTION_LOCK", "KILL_SWITCH_ENGAGED", "PROTECTION_LOCK"]
    assert denials[0].client_order_id == denied_id
    events = [(e.event, e.actor) for e in store.lock_history()]
    assert events == [("set", "protection:daily_loss"), ("cleared", "ops")]
    assert not store.load_locks()


def test_a_session_refuses_a_bad_risk_config_before_it_trades(tmp_path: Path) -> None:
    import pytest

    from traderbot.errors import UserError

    cfg = parse_risk_config(
        {"limits": {"max_order_quantity": 10}, "news": {"file": str(tmp_path / "gone.csv")}}
    )
    with pytest.raises(UserError, match=r"gone\.csv"):
        _session(MemoryBroker(), f"sqlite:///{tmp_path / 'tb.db'}", risk_config=cfg)


def test_a_session_applies_its_risk_config_and_stores_denials(any_db_url: str) -> None:
    cfg = parse_risk_config({"limits": {"max_order_quantity": 5000}})

    async def run() -> None:
        s = _session(MemoryBroker(), any_db_url, risk_config=cfg)
        await s.start()
        o = s.order("S1", "EURUSD", "buy", Decimal(6000))
        assert s.submit(o) is None and o.reason == "QUANTITY_EXCEEDS_MAX: max=5000, order=6000"
        await s.stop()

    asyncio.run(run())
    (d,) = SqlRiskStore(open_engine(any_db_url), "TB").recent_denials()
    assert (d.code, d.quantity, d.side) == ("QUANTITY_EXCEEDS_MAX", "6000", "buy")


def test_protections_count_the_trades_from_before_a_restart(any_db_url: str) -> None:
    """A losing streak that began before the restart still counts: one loss, restart, one more loss locks."""
    db = any_db_url
    broker = MemoryBroker()
    risk = parse_risk_config({"protections": {"global": {"max_consecutive_losses": 2, "pause_minutes": 60}}})

    async def losing_trade(s: TradingSession) -> None:
        broker.price = Decimal("1.10000")
        assert s.submit(s.order("S1", "EURUSD", "buy", Decimal(1000))) is not None
        await asyncio.sleep(0.05)
        broker.price = Decimal("1.09000")
        assert s.submit(s.order("S1", "EURUSD", "sell", Decimal(1000))) is not None
        await asyncio.sleep(0.05)

    async def first() -> None:
        s = _session(broker, db, risk_config=risk)
        await s.start()
        await losing_trade(s)
        assert len(s.kernel.portfolio.trades) == 1 and s.kernel.portfolio.trades[0].pnl < 0
        assert not s.kernel.risk.locks.active()
        await s.stop()

    asyncio.run(first())

    async def second() -> None:
        broker.events = asyncio.Queue()  # the broker's stream, on this run's event loop
        s = _session(broker, db, risk_config=risk)
        await s.start()
        assert "account losing streak: 1 / max 2" in s.kernel.risk_parts.protections.status()  # type: ignore[union-attr]
        assert not s.kernel.risk.locks.active()  # rebuilding sets no lock below the limit
        await losing_trade(s)
        (lock,) = s.kernel.risk.locks.active()
        assert lock.source == "protection:consecutive_losses"
        o = s.order("S1", "EURUSD", "buy", Decimal(1000))
        assert s.submit(o) is None and o.reason.startswith("PROTECTION_LOCK")
        await s.stop()

    asyncio.run(second())


def test_todays_entries_from_before_a_restart_count_toward_the_daily_limit(any_db_url: str) -> None:
    """Entries are counted from fills, which a restart does not replay on the bus: the session rebuilds the
    protections' counters from the stored trades and positions, so the second entry of the day still locks."""
    db = any_db_url
    broker = MemoryBroker()
    risk = parse_risk_config({"protections": {"global": {"max_trades_per_day": 2}}})

    async def first() -> None:
        s = _session(broker, db, risk_config=risk)
        await s.start()
        assert s.submit(s.order("S1", "EURUSD", "buy", Decimal(1000))) is not None
        await asyncio.sleep(0.05)
        assert s.kernel.portfolio.net_quantity("EURUSD") == 1000
        await s.stop()

    asyncio.run(first())

    async def second() -> None:
        broker.events = asyncio.Queue()  # the broker's stream, on this run's event loop
        s = _session(broker, db, risk_config=risk)
        await s.start()
        assert "account entries today: 1 / max 2" in s.kernel.risk_parts.protections.status()  # type: ignore[union-attr]
        assert s.submit(s.order("S1", "GBPUSD", "buy", Decimal(1000))) is not None
        await asyncio.sleep(0.05)
        (lock,) = s.kernel.risk.locks.active()
        assert lock.source == "protection:trades_per_day"
        await s.stop()

    asyncio.run(second())
