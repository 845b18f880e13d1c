"""The `Broker` protocol: what every real broker adapter (OANDA, Alpaca, ccxt, NinjaTrader) provides.

Adapters are asynchronous (network and file I/O); the kernel talks to them through the execution bridge,
never directly. Everything an adapter returns is in our own vocabulary: our instrument ids ("EURUSD"), our
order sides/types/statuses, exact Decimals for prices, quantities and money, UTC nanosecond timestamps.

Errors are `BrokerError` subclasses with a machine-readable `code`. The important distinction for order
safety: `BrokerRejected` means the broker refused the order (it does not exist there); `BrokerTimeout` and
`BrokerUnavailable` mean the outcome is unknown, so the caller must look the order up by its client order id
before it sends again (never resubmit blindly).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol, runtime_checkable

from traderbot.core.messages import OrderEvent
from traderbot.model.data import Bar
from traderbot.model.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

ZERO = Decimal(0)


# ---- what brokers report ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BrokerAccount:
    account_id: str
    currency: str
    balance: Decimal
    equity: Decimal  # balance + unrealised P&L
    margin_used: Decimal = ZERO
    margin_available: Decimal = ZERO
    ts: int = 0


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker knows it. `client_order_id` is "" for orders placed outside traderbot."""

    client_order_id: str
    venue_order_id: str
    instrument_id: str
    side: OrderSide
    type: OrderType
    quantity: Decimal
    status: OrderStatus  # ACCEPTED, TRIGGERED, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED or EXPIRED
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None  # average fill price, exact as the broker reports it
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    ts: int = 0
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status.is_open


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """Net position per instrument; `quantity` is signed (> 0 long, < 0 short)."""

    instrument_id: str
    quantity: Decimal
    avg_price: Decimal
    unrealized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution (a "trade" in most vendors' words), identified by the broker's trade id."""

    trade_id: str
    client_order_id: str
    venue_order_id: str
    instrument_id: str
    side: OrderSide
    quantity: Decimal
    price: Decimal
    ts: int
    commission: Decimal = ZERO
    commission_currency: str = ""


class PriceTick(NamedTuple):
    """Top of book from a live price stream (exact prices as the broker sent them)."""

    instrument_id: str
    ts: int
    bid: Decimal
    ask: Decimal


class StreamReconnected(NamedTuple):
    """Yielded by `transactions()` after the stream had to reconnect: reconcile before trusting state."""

    broker: str
    ts: int
    reason: str = ""


class StreamInterrupted(NamedTuple):
    """Yielded by `transactions()` as soon as the stream is lost, before the adapter starts reconnecting (which
    can take a while): the lost-connection breaker counts the outage from here, until StreamReconnected."""

    broker: str
    ts: int
    reason: str = ""


BrokerEvent = OrderEvent | StreamReconnected | StreamInterrupted


# ---- errors -------------------------------------------------------------------------------------------------
class BrokerError(Exception):
    """A broker call failed. `code` is machine-readable; the message is one sentence for a person."""

    code = "BROKER_ERROR"
    outcome_unknown = False  # True: the request may have been executed; look it up before retrying

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.status = status


class BrokerRejected(BrokerError):
    """The broker refused the request (e.g. HTTP 400): nothing was executed. `code` holds its reason."""

    code = "BROKER_REJECTED"


class BrokerRateLimited(BrokerError):
    """HTTP 429 or equivalent: nothing was executed; retry after `retry_after` seconds."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float = 1.0, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class BrokerTimeout(BrokerError):
    """No answer in time: the request may or may not have been executed."""

    code = "TIMEOUT"
    outcome_unknown = True


class BrokerUnavailable(BrokerError):
    """5xx, connection refused or dropped: the request may or may not have been executed."""

    code = "UNAVAILABLE"
    outcome_unknown = True


class BrokerAuthError(BrokerError):
    """Credentials refused (401/403): fix the credential named in the message."""

    code = "AUTH"


class MalformedMessage(BrokerError):
    """A response or stream line that does not parse or lacks documented fields; it is logged and skipped."""

    code = "MALFORMED"


class MissingCredential(BrokerError):
    """A required credential is not set; the message names the environment variable."""

    code = "MISSING_CREDENTIAL"


# ---- the protocol -------------------------------------------------------------------------------------------
@runtime_checkable
class Broker(Protocol):
    """One broker account. Adapters: brokers.oanda, brokers.alpaca, brokers.ccxt, brokers.ninjatrader."""

    name: str

    async def connect(self) -> None:
        """Open sessions and check credentials (raises BrokerAuthError / MissingCredential)."""
        ...

    async def close(self) -> None: ...

    async def account(self) -> BrokerAccount: ...

    async def instruments(self) -> list[Instrument]:
        """The tradable instruments with their tick, lot and precision rules, under our ids."""
        ...

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Complete bars with open time in [start_ns, end_ns), oldest first, paged as the vendor requires.

        `timeframe` is ours ("M1", "M15", "H1", "D1"). Incomplete (still forming) bars are never returned.
        """
        ...

    def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:
        """Live top of book. Heartbeats are consumed inside; a stalled stream raises BrokerUnavailable."""
        ...

    async def submit(self, order: Order) -> BrokerOrder:
        """Place the order with `order.client_order_id` as the broker's client id; returns the ack.

        Raises BrokerRejected (refused), BrokerRateLimited (not executed), or BrokerTimeout /
        BrokerUnavailable (outcome unknown: look up `order(client_order_id)` before any retry).
        """
        ...

    async def cancel(self, order: Order) -> None:
        """Request cancellation; the outcome arrives on `transactions()` (or via `order()`)."""
        ...

    async def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> BrokerOrder:
        """Change a working order (cancel-replace where the vendor has no amend)."""
        ...

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or None when the broker has never seen it."""
        ...

    async def open_orders(self) -> list[BrokerOrder]: ...

    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        """Executions at or after `since_ns`, oldest first."""
        ...

    async def positions(self) -> list[BrokerPosition]:
        """Open positions (non-zero), one per instrument."""
        ...

    def transactions(self) -> AsyncIterator[BrokerEvent]:
        """Order events as they happen (accepted, filled, canceled, rejected, expired, updated).

        After a reconnect the adapter recovers what it missed where the vendor allows (e.g. OANDA's `sinceid`)
        and yields StreamReconnected so the caller reconciles. Malformed lines are logged and skipped.
        """
        ...
