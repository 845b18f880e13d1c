"""Reconciliation: make our orders and positions agree with the broker's, and say what differed.

Runs at start, after every reconnect, and periodically while trading. While it runs the risk engine denies
new orders (RECONCILING); if it fails, they stay denied and the report says why.

1. Each order we hold open is compared with the broker's record (found by client order id): fills we missed
   are booked (real trade ids from `Broker.fills()`, the rest from the broker's filled quantity and average
   price), and orders that filled, were canceled or expired while we were away are settled. An order the
   broker never received was cut off before the send: it is closed as NOT_SENT (or sent now, if configured).
2. Open broker orders we do not know are adopted as external orders (strategy EXTERNAL, flagged external).
3. Positions: after 1 and 2, any difference between our net position and the broker's is booked as an
   external fill at the broker's average price, so our books equal the broker's. In periodic runs a
   difference is only adopted when a second run in a row still sees it (a fill may be in flight).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from traderbot.brokers.base import Broker, BrokerError, BrokerFill, BrokerOrder
from traderbot.core.messages import OrderCanceled, OrderEvent, OrderFilled
from traderbot.execution.broker_venue import fill_event, report_event
from traderbot.execution.engine import ExecutionEngine
from traderbot.model.enums import OrderSide, OrderStatus
from traderbot.model.instrument import Instrument, generic_instrument, get_instrument
from traderbot.model.order import Order
from traderbot.risk.engine import RiskEngine

_log = logging.getLogger("traderbot.reconcile")
EXTERNAL = "EXTERNAL"


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # fills_booked, settled, not_sent, missing_at_broker, order_adopted, position_adopted, ...
    subject: str  # a client order id or an instrument id
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: {self.detail}"


@dataclass(slots=True)
class ReconciliationReport:
    reason: str
    started_ns: int
    finished_ns: int = 0
    ok: bool = False
    error: str = ""
    checked_orders: int = 0
    differences: list[Difference] = field(default_factory=list)

    def summary(self) -> str:
        if not self.ok:
            return f"reconciliation failed ({self.reason}): {self.error}"
        if not self.differences:
            return f"reconciled ({self.reason}): {self.checked_orders} open orders checked, no differences"
        lines = [f"reconciled ({self.reason}): {len(self.differences)} differences"]
        return "\n".join([*lines, *(f"  {d}" for d in self.differences)])


class Reconciler:
    def __init__(
        self,
        broker: Broker,
        engine: ExecutionEngine,
        risk: RiskEngine,
        *,
        resend_unsent: bool = False,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.broker = broker
        self.engine = engine
        self.risk = risk
        self.resend_unsent = resend_unsent
        self.now_ns = now_ns
        self.last: ReconciliationReport | None = None
        self._suspect: dict[str, Decimal] = {}  # periodic runs: position differences seen once

    async def run(self, reason: str = "start", *, adopt_positions: bool = True) -> ReconciliationReport:
        report = ReconciliationReport(reason, self.now_ns())
        self.risk.reconciling = f"reconciling with {self.broker.name} ({reason})"
        try:
            await self._orders(report)
            await self._positions(report, adopt_now=adopt_positions)
        except BrokerError as exc:
            report.error = f"{type(exc).__name__} {exc.code}: {exc}"
            self.risk.reconciling = f"reconciliation with {self.broker.name} failed: {report.error}"
            _log.error("not trading: %s", report.summary())
        else:
            report.ok = True
            self.risk.reconciling = None
            (_log.warning if report.differences else _log.info)("%s", report.summary())
        report.finished_ns = self.now_ns()
        self.last = report
        return report

    # ---- orders --------------------------------------------------------------------------------------------
    async def _orders(self, report: ReconciliationReport) -> None:
        cache = self.engine.cache
        remote_open = {_remote_id(o): o for o in await self.broker.open_orders()}
        ours = list(cache.open_ids.values())
        report.checked_orders = len(ours)
        fills: list[BrokerFill] | None = None
        for order in ours:
            coid = order.client_order_id
            remote = remote_open.pop(coid, None) or await self.broker.order(coid)
            if remote is None:
                self._not_at_broker(order, report)
                continue
            before = (order.status, order.filled_qty)
            if remote.filled_qty > order.filled_qty:
                if fills is None:
                    since = max(min(o.ts_init for o in ours) - 60_000_000_000, 0)
                    fills = await self.broker.fills(since)
                for f in fills:
                    if f.client_order_id == coid:
                        self._apply(fill_event(f, order))
            self._apply(report_event(order, remote, self.now_ns()))
            if (order.status, order.filled_qty) != before:
                report.differences.append(
                    Difference(
                        "settled",
                        coid,
                        f"{before[0].value} {before[1]} filled -> {order.status.value} {order.filled_qty} "
                        f"filled (broker: {remote.status.value}, avg {remote.avg_price})",
                    )
                )
        for rid, remote in remote_open.items():
            known = cache.orders.get(rid)
            if known is not None:  # closed here, open there: the broker's view wins
                self._apply(report_event(known, remote, self.now_ns()))
                report.differences.append(
                    Difference("reopened", rid, f"closed here, {remote.status.value} at the broker")
                )
                continue
            self._adopt_order(rid, remote)
            report.differences.append(
                Difference(
                    "order_adopted",
                    rid,
                    f"{remote.side.value} {remote.quantity} {remote.instrument_id} {remote.type.value} opened "
                    f"outside traderbot, adopted as external",
                )
            )

    def _not_at_broker(self, order: Order, report: ReconciliationReport) -> None:
        coid = order.client_order_id
        if order.status is OrderStatus.SUBMITTED and self.resend_unsent:
            report.differences.append(Difference("resent", coid, "never reached the broker; sent now"))
            self.engine._send(order)
            return
        if order.status is OrderStatus.SUBMITTED:
            kind, why = (
                "not_sent",
                "NOT_SENT: stopped before the order reached the broker; not sent after restart",
            )
        else:
            kind, why = (
                "missing_at_broker",
                f"MISSING_AT_BROKER: {order.status.value} here, unknown to the broker",
            )
        self._apply(OrderCanceled(coid, order.instrument_id, order.strategy_id, self.now_ns(), reason=why))
        report.differences.append(Difference(kind, coid, why))

    def _adopt_order(self, rid: str, remote: BrokerOrder) -> None:
        inst = self._instrument(remote.instrument_id)
        order = Order(
            client_order_id=rid,
            instrument_id=inst.id,
            strategy_id=EXTERNAL,
            side=remote.side,
            type=remote.type,
            quantity=remote.quantity,
            ts_init=remote.ts or self.now_ns(),
            price=remote.price,
            trigger_price=remote.trigger_price,
            time_in_force=remote.time_in_force,
            tag="external",
            external=True,
        )
        order.status = remote.status
        order.filled_qty = remote.filled_qty
        order.filled_cost = (remote.avg_price or Decimal(0)) * remote.filled_qty
        order.venue_order_id = remote.venue_order_id
        self.engine.journal.record(order)
        self.engine.cache.orders[rid] = order
        self.engine.cache.track(order)

    # ---- positions -----------------------------------------------------------------------------------------
    async def _positions(self, report: ReconciliationReport, *, adopt_now: bool) -> None:
        portfolio = self.engine.portfolio
        remote = {p.instrument_id: p for p in await self.broker.positions()}
        ids = set(remote) | {iid for iid in portfolio._net if portfolio.net_quantity(iid) != 0}
        for iid in sorted(ids):
            theirs = remote[iid].quantity if iid in remote else Decimal(0)
            ours = portfolio.net_quantity(iid)
            diff = theirs - ours
            if diff == 0:
                self._suspect.pop(iid, None)
                continue
            if not adopt_now and self._suspect.get(iid) != diff:
                self._suspect[iid] = diff
                report.differences.append(
                    Difference(
                        "position_mismatch", iid, f"ours {ours}, broker {theirs}; checked again next run"
                    )
                )
                continue
            self._suspect.pop(iid, None)
            inst = self._instrument(iid)
            px = remote[iid].avg_price if iid in remote and remote[iid].avg_price else None
            px = px or self.engine.cache.last_price(iid) or Decimal(0)
            now = self.now_ns()
            fill = OrderFilled(
                f"POS-{iid}",
                inst.id,
                EXTERNAL,
                now,
                reason="external",
                trade_id=f"P-{iid}-{now}",
                side=(OrderSide.BUY if diff > 0 else OrderSide.SELL).value,
                quantity=abs(diff),
                price=px,
                commission_currency=inst.quote,
            )
            self.engine.journal.fill(None, fill, external=True)
            portfolio.on_fill(fill, 0)
            report.differences.append(
                Difference(
                    "position_adopted",
                    iid,
                    f"ours {ours}, broker {theirs}: {diff:+} booked as external at {px}",
                )
            )

    def _instrument(self, instrument_id: str) -> Instrument:
        cache = self.engine.cache
        inst = cache.instruments.get(instrument_id)
        if inst is None:
            try:
                inst = get_instrument(instrument_id)
            except Exception:
                inst = generic_instrument(instrument_id)
            cache.instruments[inst.id] = inst
        return inst

    def _apply(self, event: OrderEvent) -> None:
        self.engine.cache.now_ns = self.now_ns()
        self.engine.on_event(event)


def _remote_id(o: BrokerOrder) -> str:
    return o.client_order_id or f"EXT-{o.venue_order_id}"
