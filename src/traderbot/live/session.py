"""A trading session: the kernel wired to a broker adapter, the order database and a wall clock.

`start()` opens the database (SQLite file by default, PostgreSQL by URL), restores orders and positions from
it, connects to the broker and reconciles. Until reconciliation has succeeded no order leaves the process
(the risk engine denies them with RECONCILING); if it fails, `start()` says why and the session does not
trade. The wiring to the broker (venue, reconciliation, clock, timers, the transaction stream) is
`live.link.BrokerLink`, which the live trading service uses too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from decimal import Decimal

from traderbot.brokers.base import Broker
from traderbot.core.ids import ClientOrderIdGenerator
from traderbot.execution.reconcile import ReconciliationReport
from traderbot.kernel.kernel import Kernel, gc_tuned
from traderbot.live.link import BrokerLink, NotReconciled, SessionConfig
from traderbot.model.enums import OrderSide, OrderType, TimeInForce
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order, exit_order
from traderbot.risk.config import RiskConfig
from traderbot.risk.locks import LockBook
from traderbot.risk.overrides import Overrides
from traderbot.risk.states import TradingStates
from traderbot.risk.system_breakers import SystemBreakers
from traderbot.store.db import open_engine
from traderbot.store.journal import SqlOrderJournal
from traderbot.store.risk_store import SqlRiskStore
from traderbot.store.state_store import SqlStateStore

__all__ = ["NotReconciled", "SessionConfig", "TradingSession"]


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
        self.link = BrokerLink(
            self.kernel, broker, self.journal, config, breakers=breakers, spawn_child=self._spawn_child
        )
        self.clock, self.venue, self.reconciler = self.link.clock, self.link.venue, self.link.reconciler
        self.breakers = breakers
        for inst in instruments:
            self.kernel.cache.instruments[inst.id] = inst
        self._ids: dict[str, ClientOrderIdGenerator] = {}
        self._gc = contextlib.ExitStack()
        self.restore()

    # ---- state ---------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Orders and positions as stored (see BrokerLink.restore)."""
        self.link.restore()

    def positions(self) -> dict[str, Decimal]:
        p = self.kernel.portfolio
        return {iid: p.net_quantity(iid) for iid in p._net if p.net_quantity(iid) != 0}

    # ---- running -------------------------------------------------------------------------------------------
    async def start(self) -> ReconciliationReport:
        """Connect and reconcile; raises NotReconciled (and trades nothing) when reconciliation fails."""
        report = await self.link.start()
        # long-lived objects out of the collector's sight, young ones collected less often (as a backtest's loop)
        self._gc.enter_context(gc_tuned())
        return report

    async def stop(self) -> None:
        await self.link.stop()
        self.db.dispose()
        self._gc.close()

    async def reconcile(self, reason: str, *, adopt_positions: bool = True) -> ReconciliationReport:
        return await self.link.reconcile(reason, adopt_positions=adopt_positions)

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
