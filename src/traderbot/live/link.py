"""A kernel linked to a broker: the wiring a trading session and the live service share.

`BrokerLink` swaps a kernel's simulated parts for live ones: a wall clock, the broker venue (orders as async
broker calls, answers as events), reconciliation (no order leaves the process, RECONCILING, until it has
succeeded) and the system circuit breakers. `start()` connects and reconciles, then runs three tasks on the
event loop: the broker's transaction stream (reconciling after every reconnect), the timers (acknowledgement
timeouts, time-based breakers, order updates written), and a periodic reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from traderbot.brokers.base import Broker
from traderbot.core.clock import LiveClock
from traderbot.core.messages import OrderEvent
from traderbot.errors import UserError
from traderbot.execution.broker_venue import BrokerVenue
from traderbot.execution.reconcile import Reconciler, ReconciliationReport
from traderbot.kernel.kernel import Kernel
from traderbot.model.order import Order
from traderbot.risk.system_breakers import SystemBreakers, kill_switch_flatten
from traderbot.store.journal import SqlOrderJournal

_log = logging.getLogger("traderbot.session")
SpawnChild = Callable[..., Order]


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


class NotReconciled(UserError):
    """The session cannot trade because reconciliation with the broker did not succeed."""


def _no_bars(_instrument_id: str) -> int:
    return 0


class BrokerLink:
    def __init__(
        self,
        kernel: Kernel,
        broker: Broker,
        journal: SqlOrderJournal,
        config: SessionConfig,
        *,
        breakers: SystemBreakers | None = None,
        spawn_child: SpawnChild | None = None,
    ) -> None:
        self.kernel, self.broker, self.journal, self.config = kernel, broker, journal, config
        self.clock = LiveClock()
        kernel.clock = self.clock  # type: ignore[assignment]
        ex = kernel.execution
        ex.clock = self.clock
        ex._bar_index = _no_bars  # live: no bar schedule behind the portfolio
        ex.ack_timeout_ns = int(config.ack_timeout_s * 1e9)
        ex.max_send_attempts = config.max_send_attempts
        ex.manage_oco = True
        if spawn_child is not None:
            ex.spawn_child = spawn_child
        self.venue = BrokerVenue(broker, self._emit, time.time_ns)
        ex.venue = self.venue
        self.reconciler = Reconciler(
            broker, ex, kernel.risk, resend_unsent=config.resend_unsent, now_ns=time.time_ns
        )
        kernel.risk.reconciling = "the session has not reconciled with the broker yet"
        kernel.risk.follow_bars(
            kernel.bus
        )  # price-dependent risk sums revalued as bars arrive, not per order
        # system circuit breakers: fed by the venue (requests, latency, stream) and the bus (rejections),
        # polled by the timers; they lock the system in the risk engine and flatten through the kill switch
        self.breakers = breakers
        if breakers is not None:
            breakers.bind(kernel.risk.locks, kill_switch_flatten(kernel))
            breakers.attach(kernel.bus)
            self.venue.health = breakers
        self._tasks: list[asyncio.Task[None]] = []
        self._recon_lock = asyncio.Lock()

    # ---- state ---------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Orders and positions as stored: every fill replayed into the portfolio, trade ids remembered; the
        protections' counters rebuilt from the replayed trades."""
        k = self.kernel
        cache, risk, portfolio = k.cache, k.risk, k.portfolio
        protections = k.risk_parts.protections
        if protections is not None:  # the replay's trades are history, not news: counted once, below
            protections.detach(k.bus)
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
            protections.attach(k.bus)

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
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.venue.pump_transactions(self._on_reconnect)),
            loop.create_task(self._timers()),
            loop.create_task(self._periodic()),
        ]
        return report

    async def stop(self) -> None:
        """Stop the tasks, wait for the requests in flight, write what is buffered, close the broker."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        await self.venue.drain()
        self.journal.flush()
        await self.broker.close()

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
            breakers = self._breakers()
            if breakers is not None:  # time-based breaker conditions (a long disconnect)
                breakers.poll(self.kernel.cache.now_ns)
            try:
                self.journal.flush()  # status updates and fills: committed within one tick
            except Exception:
                _log.exception("could not write order updates; retrying on the next tick")

    def _breakers(self) -> SystemBreakers | None:
        """The breakers given, else those of the kernel's risk configuration now (a service reloads it); the
        venue reports the broker's health to them."""
        breakers = self.breakers or self.kernel.risk_parts.system
        self.venue.health = breakers
        return breakers

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval_s)
            await self.reconcile("periodic", adopt_positions=False)

    def _emit(self, event: OrderEvent) -> None:
        self.kernel.cache.now_ns = time.time_ns()
        self.kernel.execution.on_event(event)
