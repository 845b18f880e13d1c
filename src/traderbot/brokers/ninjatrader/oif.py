"""Order Instruction Files (OIF): NinjaTrader 8's documented ATI command lines, written atomically.

Every line has the 13 documented semicolon-separated fields, in this order:

    COMMAND;ACCOUNT;INSTRUMENT;ACTION;QTY;ORDER TYPE;LIMIT PRICE;STOP PRICE;TIF;OCO ID;ORDER ID;STRATEGY;STRATEGY ID

(ACTION is BUY/SELL, ORDER TYPE is MARKET/LIMIT/STOPMARKET/STOPLIMIT, TIF is DAY/GTC; prices use a decimal point,
never a comma; an unused price is written as 0, as NinjaTrader's own OIF examples do). NinjaTrader processes any
file named `oif*.txt` in its `incoming` folder the moment it appears, then deletes it. So a file is written under
a name outside that pattern, flushed and fsynced, and only then renamed to a unique `oif<...>.txt` (a rename within
one folder is atomic): NinjaTrader never sees a half-written instruction.

ORDER ID becomes the name of NinjaTrader's outgoing order-state file (`<ORDER ID>.txt`), so our client order id is
encoded reversibly: letters, digits, '-', '_' and '.' stay; any other character becomes '~' and two hex digits
per UTF-8 byte (so '~' itself is escaped too). `decode_order_id(encode_order_id(x)) == x` for every string.
(Windows file names ignore case: two client ids that differ only by case would share one file.)
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from traderbot.model.enums import OrderSide, OrderType, TimeInForce

FIELDS = 13
TMP_PREFIX = ".traderbot-"
TMP_SUFFIX = ".tmp"
ORDER_TYPES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP: "STOPMARKET",
    OrderType.STOP_LIMIT: "STOPLIMIT",
}
TIFS = {TimeInForce.DAY: "DAY", TimeInForce.GTC: "GTC"}
_SAFE = re.compile(r"[A-Za-z0-9._-]")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")
_seq = itertools.count(1)


# ---- order ids ------------------------------------------------------------------------------------------
def encode_order_id(client_order_id: str) -> str:
    """Our client order id as an ATI ORDER ID that is also a safe file name (reversible)."""
    out = []
    for ch in client_order_id:
        if _SAFE.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def decode_order_id(order_id: str) -> str:
    """Inverse of `encode_order_id`."""
    raw = bytearray()
    pos = 0
    for m in _ESCAPE.finditer(order_id):
        raw += order_id[pos : m.start()].encode("utf-8")
        raw.append(int(m.group(1), 16))
        pos = m.end()
    raw += order_id[pos:].encode("utf-8")
    return raw.decode("utf-8")


# ---- lines ----------------------------------------------------------------------------------------------
def format_price(price: Decimal | None) -> str:
    """A price in US decimal format without exponent ("4000.25"); None (unused) is "0"."""
    if price is None or price == 0:
        return "0"
    text = format(price, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_quantity(quantity: Decimal) -> str:
    return format(quantity.to_integral_value(), "f")


def _line(*fields: str) -> str:
    padded = list(fields) + [""] * (FIELDS - len(fields))
    for f in padded:
        if ";" in f or "\n" in f or "\r" in f:
            raise ValueError(f"ATI field {f!r} contains a ';' or a line break")
    return ";".join(padded)


def place(
    account: str,
    instrument: str,
    side: OrderSide,
    quantity: Decimal,
    order_type: OrderType,
    *,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    oco_id: str = "",
    order_id: str = "",
) -> str:
    """PLACE;<ACCOUNT>;<INSTRUMENT>;<ACTION>;<QTY>;<ORDER TYPE>;[LIMIT];[STOP];<TIF>;[OCO ID];[ORDER ID];;"""
    return _line(
        "PLACE",
        account,
        instrument,
        "BUY" if side is OrderSide.BUY else "SELL",
        format_quantity(quantity),
        ORDER_TYPES[order_type],
        format_price(limit_price),
        format_price(stop_price),
        TIFS[tif],
        oco_id,
        order_id,
    )


def cancel(order_id: str) -> str:
    """CANCEL;;;;;;;;;;<ORDER ID>;;"""
    return _line("CANCEL", *[""] * 9, order_id)


def change(
    order_id: str,
    *,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> str:
    """CHANGE;;;;<QTY>;;<LIMIT PRICE>;<STOP PRICE>;;;<ORDER ID>;; (0 leaves a value unchanged)."""
    qty = "0" if quantity is None else format_quantity(quantity)
    return _line(
        "CHANGE", "", "", "", qty, "", format_price(limit_price), format_price(stop_price), "", "", order_id
    )


def close_position(account: str, instrument: str) -> str:
    """CLOSEPOSITION;<ACCOUNT>;<INSTRUMENT>;;;;;;;;;;"""
    return _line("CLOSEPOSITION", account, instrument)


def cancel_all_orders() -> str:
    """CANCELALLORDERS;;;;;;;;;;;;"""
    return _line("CANCELALLORDERS")


def flatten_everything() -> str:
    """FLATTENEVERYTHING;;;;;;;;;;;;"""
    return _line("FLATTENEVERYTHING")


# ---- atomic files ---------------------------------------------------------------------------------------
def next_file_name() -> str:
    """A unique `oif*.txt` name (time, process and sequence), so NinjaTrader never sees a name twice."""
    return f"oif{time.time_ns()}_{os.getpid()}_{next(_seq)}.txt"


def write_oif(incoming_dir: Path, lines: Sequence[str], name: str | None = None) -> Path:
    """Write one OIF atomically (temp name outside `oif*.txt`, fsync, rename); returns its final path."""
    final = incoming_dir / (name or next_file_name())
    tmp = incoming_dir / f"{TMP_PREFIX}{final.stem}{TMP_SUFFIX}"
    data = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(incoming_dir)
    return final


def remove_stale_temp_files(incoming_dir: Path) -> int:
    """Delete our own leftover temp files (from a crash mid-write); returns how many."""
    removed = 0
    for path in incoming_dir.glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable where the OS allows opening a folder (POSIX); a no-op elsewhere."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
