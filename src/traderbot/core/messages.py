"""Commands (imperative) and events (past tense). All are immutable once created."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from traderbot.model.order import Order


# ---- commands -------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SubmitOrder:
    order: Order
    ts: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_order_id: str
    strategy_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    client_order_id: str
    strategy_id: str
    ts: int
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None


# ---- order events ---------------------------------------------------------------------------------------------
# Events are NamedTuples: immutable like every message, and about three times cheaper to create than frozen
# dataclasses, which matters because several are created per order. Every order event starts with the same
# five fields: client_order_id, instrument_id, strategy_id, ts, reason (for denials and rejections).


class OrderDenied(NamedTuple):
    """Refused by our own risk engine before reaching a venue; `reason` starts with a reason code."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderSubmitted(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderAccepted(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""
    venue_order_id: str = ""


class OrderRejected(NamedTuple):
    """Refused by the venue (e.g. INSUFFICIENT_MARGIN, MARKET_CLOSED)."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderTriggered(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderUpdated(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None


class OrderCanceled(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderCancelRejected(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderExpired(NamedTuple):
    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


class OrderFilled(NamedTuple):
    """A fill: `quantity` at `price` (exact), with commission in `commission_currency`."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""
    trade_id: str = ""
    side: str = ""
    quantity: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    commission_currency: str = ""
    venue_order_id: str = ""


class OrderStatusReport(NamedTuple):
    """A venue's answer to a query by client order id (after a timeout, or during reconciliation).

    `found=False`: the venue has never seen the order, so it is safe to send it (again). Otherwise `status`
    (an OrderStatus value), `filled_qty` and `avg_price` are the venue's view; the OMS settles the difference.
    """

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""
    found: bool = False
    status: str = ""
    filled_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    venue_order_id: str = ""


OrderEvent = (
    OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderTriggered
    | OrderUpdated
    | OrderCanceled
    | OrderCancelRejected
    | OrderExpired
    | OrderFilled
    | OrderStatusReport
)


# ---- portfolio events -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PositionChanged:
    instrument_id: str
    strategy_id: str
    ts: int
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal
    realized_pnl: Decimal  # account currency, since the position opened


class TradeClosed(NamedTuple):
    """A closed (or partly closed) position lot: one row of the trade list. Money in the account currency."""

    instrument_id: str
    strategy_id: str
    side: str  # "long" / "short"
    quantity: Decimal
    entry_ts: int
    exit_ts: int
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal  # net of commissions and financing
    commission: Decimal
    entry_notional: Decimal
    bars_held: int
