"""Orders. An order changes only by applying events through the state machine in `order_states`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from traderbot.core.money import ZERO
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from traderbot.model.order_states import TRANSITIONS, InvalidStateTransition, OrderEventKind

_log = logging.getLogger("traderbot.orders")

_BACK_TO_WORKING = frozenset(
    {OrderEventKind.CANCEL_REJECTED, OrderEventKind.MODIFY_REJECTED, OrderEventKind.UPDATED}
)
_PENDING_KINDS = frozenset({OrderEventKind.PENDING_CANCEL, OrderEventKind.PENDING_UPDATE})
_PENDING = frozenset({OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_UPDATE})


@dataclass(frozen=True, slots=True)
class TakeProfit:
    """One take-profit target of a bracket: a limit price and the fraction of the entry to close there."""

    price: Decimal
    fraction: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Bracket:
    """Exits attached to an entry order; they become live child orders when the entry fills.

    `stop_loss` is a price (or a trailing distance / ATR multiple); `take_profits` may hold several targets
    whose fractions sum to at most 1 (scaling out).
    """

    stop_loss: Decimal | None = None
    take_profits: tuple[TakeProfit, ...] = ()
    trailing_offset: Decimal | None = None
    trailing_atr_multiple: Decimal | None = None
    atr_period: int = 14


@dataclass(slots=True)
class Order:
    """A request to trade, and everything that happened to it since."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    ts_init: int
    price: Decimal | None = None  # limit price
    trigger_price: Decimal | None = None  # stop trigger
    trailing_offset: Decimal | None = None  # trailing distance in price units
    trailing_atr_multiple: Decimal | None = None  # or a multiple of ATR(atr_period)
    atr_period: int = 14
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    equity_fraction: Decimal | None = None  # size at fill time as this fraction of equity ("all in" = 1)
    bracket: Bracket | None = None
    parent_id: str | None = None
    oco_group: str | None = None
    tag: str = ""
    sizing_note: str = ""
    external: bool = False  # opened outside traderbot and adopted by reconciliation
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_qty: Decimal = ZERO
    filled_cost: Decimal = ZERO  # sum of price * quantity over fills, exact
    venue_order_id: str | None = None
    reason: str = ""
    trade_ids: set[str] = field(default_factory=set)
    _status_before_pending: OrderStatus | None = None

    @property
    def leaves_qty(self) -> Decimal:
        return self.quantity - self.filled_qty

    @property
    def avg_px(self) -> Decimal | None:
        return self.filled_cost / self.filled_qty if self.filled_qty else None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def apply(self, kind: OrderEventKind, reason: str = "") -> OrderStatus:
        """Move to the next status or raise InvalidStateTransition with the order id."""
        new = TRANSITIONS.get((self.status, kind))
        if new is None:
            msg = f"order {self.client_order_id}: event {kind.value!r} is not allowed in status {self.status.value!r}"
            _log.error("illegal order transition: %s", msg)
            raise InvalidStateTransition(msg)
        if kind in _PENDING_KINDS and self.status not in _PENDING:
            self._status_before_pending = self.status
        if kind in _BACK_TO_WORKING and self.status in _PENDING:
            # back to the working status it had: partially filled if fills arrived meanwhile
            before = self._status_before_pending or OrderStatus.ACCEPTED
            new = OrderStatus.PARTIALLY_FILLED if self.filled_qty > 0 else before
        if reason:
            self.reason = reason
        self.status = new
        return new

    def apply_fill(self, trade_id: str, quantity: Decimal, price: Decimal) -> bool:
        """Record a fill once per venue trade id; returns False for a duplicate report.

        A fill larger than the remaining quantity raises: the venue and our books disagree.
        """
        if trade_id in self.trade_ids:
            return False
        if quantity <= 0:
            raise InvalidStateTransition(f"order {self.client_order_id}: fill quantity must be positive")
        if quantity > self.leaves_qty:
            raise InvalidStateTransition(
                f"order {self.client_order_id}: fill of {quantity} exceeds the remaining {self.leaves_qty}"
            )
        full = quantity == self.leaves_qty
        self.apply(OrderEventKind.FILLED if full else OrderEventKind.PARTIALLY_FILLED)
        self.trade_ids.add(trade_id)
        self.filled_qty += quantity
        self.filled_cost += price * quantity
        return True


def exit_order(
    parent: Order, client_order_id: str, side: OrderSide, otype: OrderType, qty: Decimal, px: Decimal | None,
    ts: int,
) -> Order:  # fmt: skip
    """A bracket exit of a filled entry: a take profit (limit at `px`) or a stop loss (stop at `px`)."""
    return Order(
        client_order_id=client_order_id,
        instrument_id=parent.instrument_id,
        strategy_id=parent.strategy_id,
        side=side,
        type=otype,
        quantity=qty,
        ts_init=ts,
        price=px if otype is OrderType.LIMIT else None,
        trigger_price=px if otype in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
        tag="take_profit" if otype is OrderType.LIMIT else "stop_loss",
    )
