"""Commands (imperative) and events (past tense). All are immutable once created."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

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
@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Base of all order events: which order, when, and why (for denials/rejections)."""

    client_order_id: str
    instrument_id: str
    strategy_id: str
    ts: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderDenied(OrderEvent):
    """Refused by our own risk engine before reaching a venue; `reason` starts with a reason code."""


@dataclass(frozen=True, slots=True)
class OrderSubmitted(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderAccepted(OrderEvent):
    venue_order_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderRejected(OrderEvent):
    """Refused by the venue (e.g. INSUFFICIENT_MARGIN, MARKET_CLOSED)."""


@dataclass(frozen=True, slots=True)
class OrderTriggered(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderUpdated(OrderEvent):
    quantity: Decimal | None = None
    price: Decimal | None = None
    trigger_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderCanceled(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderCancelRejected(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderExpired(OrderEvent):
    pass


@dataclass(frozen=True, slots=True)
class OrderFilled(OrderEvent):
    """A fill: `quantity` at `price` (exact), with commission in `commission_currency`."""

    trade_id: str = ""
    side: str = ""
    quantity: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    commission_currency: str = ""
    venue_order_id: str = ""


# ---- portfolio events -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PositionChanged:
    instrument_id: str
    strategy_id: str
    ts: int
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal
    realized_pnl: Decimal  # account currency, since the position opened


@dataclass(frozen=True, slots=True)
class TradeClosed:
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
