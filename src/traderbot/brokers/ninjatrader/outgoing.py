"""NinjaTrader 8's documented Information Update Files (the ATI `outgoing` folder), read defensively.

- Order state files `<ORDER ID>.txt`: `ORDER STATE;FILLED AMOUNT;AVERAGE FILL PRICE`, rewritten in place on
  every state change of an order placed with an ORDER ID.
- Position files `<INSTRUMENT NAME> <EXCHANGE>_<ACCOUNT>_Position.txt` (e.g. `ES 12-26 Globex_Sim101_Position.txt`):
  `MARKET POSITION;QUANTITY;AVERAGE ENTRY PRICE` with LONG, SHORT or FLAT.
- Connection state files `<CONNECTION NAME>.txt`: CONNECTED or DISCONNECTED.

NinjaTrader overwrites these files in place, so a read can catch one empty or half written. Nothing here trusts a
single read: `read_settled` accepts content only when two reads `settle` seconds apart agree and it parses;
anything else is retried, and what never parses raises MalformedMessage (never a crash). NinjaTrader empties the
folder when it restarts.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from traderbot.brokers.base import MalformedMessage
from traderbot.model.enums import OrderStatus

POSITION_SUFFIX = "_position.txt"
T = TypeVar("T")

# NinjaTrader 8 order states (written upper case, e.g. PARTFILLED) -> ours. UNKNOWN carries no information.
ORDER_STATES: Mapping[str, OrderStatus | None] = {
    "INITIALIZED": OrderStatus.SUBMITTED,
    "SUBMITTED": OrderStatus.SUBMITTED,
    "ACCEPTED": OrderStatus.ACCEPTED,
    "WORKING": OrderStatus.ACCEPTED,
    "TRIGGERPENDING": OrderStatus.ACCEPTED,
    "SUSPENDED": OrderStatus.ACCEPTED,
    "CHANGEPENDING": OrderStatus.PENDING_UPDATE,
    "CHANGESUBMITTED": OrderStatus.PENDING_UPDATE,
    "CANCELPENDING": OrderStatus.PENDING_CANCEL,
    "CANCELSUBMITTED": OrderStatus.PENDING_CANCEL,
    "PARTFILLED": OrderStatus.PARTIALLY_FILLED,
    "PARTIALLYFILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "UNKNOWN": None,
}


@dataclass(frozen=True, slots=True)
class OrderStateLine:
    state: str  # NinjaTrader's word, normalised (e.g. "PARTFILLED")
    status: OrderStatus
    filled: Decimal
    avg_price: Decimal


@dataclass(frozen=True, slots=True)
class PositionLine:
    market_position: str  # LONG, SHORT or FLAT
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal


def _number(text: str, what: str) -> Decimal:
    t = text.strip()
    if "," in t and "." not in t and t.count(",") == 1:
        t = t.replace(",", ".")  # a PC whose culture writes decimal commas
    try:
        value = Decimal(t)
    except InvalidOperation:
        raise MalformedMessage(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise MalformedMessage(f"{what} {text!r} is not a finite non-negative number")
    return value


def _single_line(text: str, fields: int, what: str) -> list[str]:
    lines = [ln for ln in text.replace("\ufeff", "").splitlines() if ln.strip()]
    if len(lines) != 1:
        raise MalformedMessage(f"{what} holds {len(lines)} lines, expected one")
    parts = [p.strip() for p in lines[0].split(";")]
    if len(parts) != fields:
        raise MalformedMessage(f"{what} {lines[0]!r} has {len(parts)} fields, expected {fields}")
    return parts


def parse_order_state(text: str) -> OrderStateLine:
    """`STATE;FILLED;AVG` -> OrderStateLine, or MalformedMessage for empty, partial or unknown content."""
    state, filled_s, avg_s = _single_line(text, 3, "order state file")
    word = state.upper().replace(" ", "").replace("_", "")
    status = ORDER_STATES.get(word, None)
    if status is None:
        raise MalformedMessage(
            f"order state {state!r} is not one NinjaTrader documents (or carries no state)"
        )
    filled = _number(filled_s, "filled amount")
    if filled != filled.to_integral_value():
        raise MalformedMessage(f"filled amount {filled_s!r} is not a whole number")
    avg = _number(avg_s, "average fill price")
    if filled > 0 and avg == 0:
        raise MalformedMessage(f"order state {text.strip()!r} has fills but no average price")
    if status is OrderStatus.FILLED and filled == 0:
        raise MalformedMessage(f"order state {text.strip()!r} says FILLED with nothing filled")
    return OrderStateLine(word, status, filled, avg)


def parse_position(text: str) -> PositionLine:
    """`LONG|SHORT|FLAT;QTY;AVG` -> PositionLine (signed quantity), or MalformedMessage."""
    side, qty_s, avg_s = _single_line(text, 3, "position file")
    side = side.upper()
    qty = _number(qty_s, "position quantity")
    avg = _number(avg_s, "average entry price")
    if side == "FLAT":
        return PositionLine(side, Decimal(0), avg)
    if side not in ("LONG", "SHORT") or qty == 0:
        raise MalformedMessage(f"position {text.strip()!r} is not LONG/SHORT with a quantity, nor FLAT")
    return PositionLine(side, qty if side == "LONG" else -qty, avg)


def parse_connection_state(text: str) -> bool | None:
    """True for CONNECTED, False for DISCONNECTED, None for anything else."""
    word = text.replace("\ufeff", "").strip().upper()
    return {"CONNECTED": True, "DISCONNECTED": False}.get(word)


def position_file_parts(name: str) -> tuple[str, str] | None:
    """`ES 12-26 Globex_Sim101_Position.txt` -> ("ES 12-26 Globex", "Sim101"); None for other files."""
    if not name.lower().endswith(POSITION_SUFFIX):
        return None
    stem = name[: -len(POSITION_SUFFIX)]
    if "_" not in stem:
        return None
    instrument, account = stem.split("_", 1)  # instrument names have no '_'; account names may
    return instrument, account


def match_instrument(full_name: str, instruments: Mapping[str, str]) -> str | None:
    """Our id whose NinjaTrader name is `full_name` or its prefix before the exchange ("ES 12-26 Globex")."""
    best: tuple[int, str] | None = None
    for ours, theirs in instruments.items():
        name, full = theirs.lower(), full_name.lower()
        if (full == name or full.startswith(name + " ")) and (best is None or len(theirs) > best[0]):
            best = (len(theirs), ours)
    return best[1] if best else None


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when it does not exist; b"" when it cannot be read right now (locked)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        return b""


def signature(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, size), or None when the file does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def decode(raw: bytes) -> str:
    return raw.decode("utf-8-sig", errors="replace")


async def read_settled(path: Path, parse: Callable[[str], T], settle: float, attempts: int = 20) -> T | None:
    """Parsed content once two reads `settle` apart agree; None if the file is absent.

    Raises MalformedMessage when the content never settles into something that parses.
    """
    last: MalformedMessage | None = None
    for _ in range(attempts):
        first = read_bytes(path)
        if first is None:
            return None
        await asyncio.sleep(settle)
        second = read_bytes(path)
        if second is None:
            return None
        if first != second:
            continue
        try:
            return parse(decode(second))
        except MalformedMessage as exc:
            last = exc
    raise MalformedMessage(f"{path.name} never settled into a valid ATI line: {last or 'it kept changing'}")
