"""A trading session: the kernel wired to a broker adapter, the order database and a wall clock.

`start()` opens the database (SQLite file by default, PostgreSQL by URL), restores orders and positions from
it, connects to the broker and reconciles. Until reconciliation has succeeded no order leaves the process
(the risk engine denies them with RECONCILING); if it fails, `start()` says why and the session does not
trade. While running, three tasks work on the one event loop: the broker's transaction stream (reconciling
after every reconnect), the timers (acknowledgement timeouts), and a periodic reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from traderbot.brokers.base import Broker
from traderbot.core.clock import LiveClock
from traderbot.core.ids import ClientOrderIdGenerator
from traderbot.core.messages import OrderEvent
from traderbot.errors import UserError
from traderbot.execution.broker_venue import BrokerVenue
from traderbot.execution.reconcile import Reconciler, ReconciliationReport
from traderbot.kernel.kernel import Kernel, gc_tuned
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order, exit_order
from traderbot.risk.config import RiskConfig
from traderbot.risk.locks import LockBook
from traderbot.risk.overrides import Overrides
from traderbot.risk.states import TradingStates
from traderbot.risk.system_breakers import SystemBreakers, kill_switch_flatten
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal
from traderbot.store.risk_store import SqlRiskStore
from traderbot.store.state_store import SqlStateStore

_log = logging.getLogger("traderbot.session")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    database_url: str = "sqlite:///traderbot.db"
    trader_id: str = "TB"
    account_currency: str = "USD"
    starting_cash: Decimal = Decimal(10_000)  # replaced by the broker's balance once connected
    ack_timeout_s: float = 5.0  # no acknowledgement this long after a request: look the order up
    max_send_attempts: int = 3
    reconcile_interval_s: float = 60.0
    resend_unsent: bool = False  # orders cut off before the send are closed as NOT_SENT, not sent late
    timer_interval_s: float = 0.005


def _no_bars(_instrument_id: str) -> int:
    return 0


class NotReconciled(UserError):
    """The session cannot trade because reconciliation with the broker did not succeed."""


class TradingSession:
    def __init__(
        self,
        broker: Broker,
        config: SessionConfig,
        instruments: Sequence[Instrument] = (),
        breakers: SystemBreakers | None = None,
        risk_config: RiskConfig | None = None,
    ) -> None:
        self.broker = broker
        self.config = config
        self.db = open_engine(config.database_url)
        self.journal = SqlOrderJournal(self.db, config.trader_id, write_behind=True)
        self.kernel = Kernel(
            account_currency=config.account_currency,
            starting_cash=config.starting_cash,
            trader_id=config.trader_id,
            journal=self.journal,
            trading_states=TradingStates(SqlStateStore(self.db, config.trader_id)),
        )
        self.kernel.portfolio.track_marks = False
        # locks, overrides and denials live in the database: a lock or an override survives a restart
        self.risk_store = SqlRiskStore(self.db, config.trader_id)
        risk = self.kernel.risk
        risk.locks = LockBook(self.risk_store, now_ns=time.time_ns)
        risk.overrides = Overrides(self.risk_store, now_ns=time.time_ns)
        risk.sink = self.risk_store
        if risk_config is not None:  # the whole configuration or nothing (raises before anything runs)
            parts = self.kernel.configure_risk(risk_config)
            breakers = breakers or parts.system
        self.clock = LiveClock()
        self.kernel.clock = self.clock  # type: ignore[assignment]
        ex = self.kernel.execution
        ex.clock = self.clock
        ex._bar_index = _no_bars  # live: no bar schedule behind the portfolio
        ex.ack_timeout_ns = int(config.ack_timeout_s * 1e9)
        ex.max_send_attempts = config.max_send_attempts
        ex.manage_oco = True
        ex.spawn_child = self._spawn_child
        self.venue = BrokerVenue(broker, self._emit, time.time_ns)
        ex.venue = self.venue
        for inst in instruments:
            self.kernel.cache.instruments[inst.id] = inst
        self.reconciler = Reconciler(
            broker, ex, self.kernel.risk, resend_unsent=config.resend_unsent, now_ns=time.time_ns
        )
        self.kernel.risk.reconciling = "the session has not reconciled with the broker yet"
        self._ids: dict[str, ClientOrderIdGenerator] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._recon_lock = asyncio.Lock()
        self._gc = contextlib.ExitStack()
        risk.follow_bars(self.kernel.bus)  # price-dependent risk sums revalued as bars arrive, not per order
        # system circuit breakers: fed by the venue (requests, latency, stream) and the bus (rejections),
        # polled by the timers; they lock the system in the risk engine and flatten through the kill switch
        self.breakers = breakers
        if breakers is not None:
            breakers.bind(self.kernel.risk.locks, kill_switch_flatten(self.kernel))
            breakers.attach(self.kernel.bus)
            self.venue.health = breakers
        self.restore()

    # ---- state ---------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Orders and positions as stored: every fill replayed into the portfolio, trade ids remembered; the
        protections' counters rebuilt from the replayed trades."""
        cache, risk, portfolio = self.kernel.cache, self.kernel.risk, self.kernel.portfolio
        protections = self.kernel.risk_parts.protections
        if protections is not None:  # the replay's trades are history, not news: counted once, below
            protections.detach(self.kernel.bus)
        for order in self.journal.load():
            cache.orders[order.client_order_id] = order
            cache.track(order)
            risk._seen_ids.add(order.client_order_id)
            self.reconciler._instrument(order.instrument_id)
        for fill in self.journal.load_fills():
            owner = cache.orders.get(fill.client_order_id)
            if owner is not None:
                owner.trade_ids.add(fill.trade_id)
            self.reconciler._instrument(fill.instrument_id)
            portfolio.on_fill(fill, 0)
        if protections is not None:  # daily counters, streaks and drawdowns as they stood before the restart
            protections.rebuild(portfolio.trades, time.time_ns())
            protections.attach(self.kernel.bus)

    def positions(self) -> dict[str, Decimal]:
        p = self.kernel.portfolio
        return {iid: p.net_quantity(iid) for iid in p._net if p.net_quantity(iid) != 0}

    # ---- running -------------------------------------------------------------------------------------------
    async def start(self) -> ReconciliationReport:
        """Connect and reconcile; raises NotReconciled (and trades nothing) when reconciliation fails."""
        await self.broker.connect()
        account = await self.broker.account()
        if account.balance > 0:
            self.kernel.portfolio.balance = account.balance
        report = await self.reconcile("start")
        if not report.ok:
            raise NotReconciled(f"not trading: {report.summary()}")
        # long-lived objects out of the collector's sight, young ones collected less often (as a backtest's loop)
        self._gc.enter_context(gc_tuned())
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.venue.pump_transactions(self._on_reconnect)),
            loop.create_task(self._timers()),
            loop.create_task(self._periodic()),
        ]
        return report

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        await self.venue.drain()
        self.journal.flush()
        await self.broker.close()
        self.db.dispose()
        self._gc.close()

    async def reconcile(self, reason: str, *, adopt_positions: bool = True) -> ReconciliationReport:
        async with self._recon_lock:
            self.kernel.cache.now_ns = time.time_ns()
            report = await self.reconciler.run(reason, adopt_positions=adopt_positions)
            self.journal.flush()
            return report

    async def _on_reconnect(self, reason: str) -> None:
        await self.reconcile(reason)

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(self.config.timer_interval_s)
            self.kernel.cache.now_ns = time.time_ns()
            self.clock.fire_due()
            if self.breakers is not None:  # time-based breaker conditions (a long disconnect)
                self.breakers.poll(self.kernel.cache.now_ns)
            try:
                self.journal.flush()  # status updates and fills: committed within one tick
            except Exception:
                _log.exception("could not write order updates; retrying on the next tick")

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval_s)
            await self.reconcile("periodic", adopt_positions=False)

    def _emit(self, event: OrderEvent) -> None:
        self.kernel.cache.now_ns = time.time_ns()
        self.kernel.execution.on_event(event)

    # ---- orders --------------------------------------------------------------------------------------------
    def order(
        self,
        strategy_id: str,
        instrument_id: str,
        side: str,
        quantity: Decimal,
        *,
        type: OrderType = OrderType.MARKET,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> Order:
        """A new order with a restart-safe client order id (sequences reserved in the database)."""
        return Order(
            client_order_id=self._next_id(strategy_id),
            instrument_id=instrument_id,
            strategy_id=strategy_id,
            side=OrderSide(side),
            type=type,
            quantity=quantity,
            ts_init=time.time_ns(),
            price=price,
            trigger_price=trigger_price,
            time_in_force=time_in_force,
        )

    def _next_id(self, strategy_id: str) -> str:
        gen = self._ids.get(strategy_id)
        if gen is None:
            gen = self._ids[strategy_id] = ClientOrderIdGenerator(
                self.config.trader_id, strategy_id, reserve=self.journal.reserve
            )
        return gen.generate()

    def _spawn_child(
        self, parent: Order, side: str, otype: OrderType, qty: Decimal, px: Decimal | None
    ) -> Order:
        """A bracket exit of a filled entry (stop loss or take profit), with its own persistent id."""
        return exit_order(
            parent, self._next_id(parent.strategy_id), OrderSide(side), otype, qty, px, time.time_ns()
        )

    def submit(self, order: Order) -> str | None:
        """Risk checks, then the journal (committed), then the broker. None when the risk engine denied it."""
        self.kernel.cache.now_ns = time.time_ns()
        return self.kernel.send(order)

    def cancel(self, client_order_id: str) -> None:
        order = self.kernel.cache.orders.get(client_order_id)
        if order is not None and order.is_open:
            self.kernel.cache.now_ns = time.time_ns()
            self.kernel.execution.cancel(order)
