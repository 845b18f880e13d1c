"""Read-only v20 endpoints of the fake: account, instruments, candles, orders, trades, positions, transactions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.fakes.oanda_fake_book import MONEY, OandaBook
from tests.fakes.oanda_fake_rules import Reply, q

JSON = dict[str, Any]
MAX_CANDLES = 5000
MAX_PAGE = 1000
TIME_KEYS = frozenset(
    {
        "time",
        "createTime",
        "filledTime",
        "cancelledTime",
        "openTime",
        "closeTime",
        "timestamp",
        "createdTime",
        "from",
        "to",
    }
)
GRANULARITY_SECONDS = {
    "S5": 5,
    "S10": 10,
    "S15": 15,
    "S30": 30,
    "M1": 60,
    "M2": 120,
    "M4": 240,
    "M5": 300,
    "M10": 600,
    "M15": 900,
    "M30": 1800,
    "H1": 3600,
    "H2": 7200,
    "H3": 10800,
    "H4": 14400,
    "H6": 21600,
    "H8": 28800,
    "H12": 43200,
    "D": 86400,
}
_UNIX = re.compile(r"^(\d+)(?:\.(\d{1,9}))?$")
_RFC = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")


# ---- DateTime ---------------------------------------------------------------------------------------------------
def format_time(ns: int, unix: bool) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    if unix:
        return f"{sec}.{frac:09d}"
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_time(text: str) -> int | None:
    m = _UNIX.match(text) or _RFC.match(text)
    if m is None:
        return None
    frac = int((m.group(2) or "").ljust(9, "0"))
    if m.re is _UNIX:
        return int(m.group(1)) * 1_000_000_000 + frac
    return int(datetime.fromisoformat(m.group(1) + "+00:00").timestamp()) * 1_000_000_000 + frac


def render(obj: Any, unix: bool, key: str = "") -> Any:
    """Stored objects -> wire JSON: integer ns times become DateTime strings, in the requested format."""
    if isinstance(obj, dict):
        return {k: render(v, unix, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render(v, unix) for v in obj]
    if key in TIME_KEYS and isinstance(obj, int):
        return format_time(obj, unix)
    return obj


def bad(name: str) -> Reply:
    return 400, {"errorMessage": f"Invalid value specified for '{name}'"}


# ---- account, instruments, positions, trades, orders ------------------------------------------------------------
def summary(book: OandaBook) -> Reply:
    s = book.summary()
    pending = sum(1 for o in book.orders.values() if o["state"] == "PENDING")
    account = {
        "id": book.account_id,
        "alias": "fake",
        "currency": book.currency,
        "createdTime": book.created,
        "balance": str(book.balance.quantize(MONEY)),
        "NAV": str(s["NAV_d"].quantize(MONEY)),
        "unrealizedPL": str(s["upl"].quantize(MONEY)),
        "marginUsed": str(s["margin"].quantize(MONEY)),
        "marginAvailable": str(s["marginAvailable_d"].quantize(MONEY)),
        "marginRate": "0.02",
        "openTradeCount": len(book.trades),
        "openPositionCount": len(_positions(book, only_open=True)),
        "pendingOrderCount": pending,
        "hedgingEnabled": False,
        "lastTransactionID": book.last_id,
    }
    return 200, {"account": account, "lastTransactionID": book.last_id}


def instruments(book: OandaBook, wanted: str | None) -> Reply:
    names = [n for n in wanted.split(",") if n] if wanted else list(book.instruments)
    if any(n not in book.instruments for n in names):
        return bad("instruments")
    return 200, {"instruments": [book.instruments[n] for n in names], "lastTransactionID": book.last_id}


def _positions(book: OandaBook, *, only_open: bool) -> list[JSON]:
    out = []
    for name in book.instruments:
        sides: dict[str, JSON] = {}
        for side, sign in (("long", 1), ("short", -1)):
            trades = [
                t
                for t in book.trades.values()
                if t["instrument"] == name and Decimal(t["currentUnits"]) * sign > 0
            ]
            units = sum((Decimal(t["currentUnits"]) for t in trades), Decimal(0))
            entry: JSON = {
                "units": str(units),
                "pl": "0.0000",
                "unrealizedPL": "0.0000",
                "financing": "0.0000",
            }
            if units:
                cost = sum((Decimal(t["currentUnits"]) * Decimal(t["price"]) for t in trades), Decimal(0))
                precision = q(book.instruments[name]["displayPrecision"] + 1)
                entry["averagePrice"] = str((cost / units).quantize(precision))
                entry["tradeIDs"] = [t["id"] for t in trades]
            sides[side] = entry
        if only_open and not (Decimal(sides["long"]["units"]) or Decimal(sides["short"]["units"])):
            continue
        out.append(
            {
                "instrument": name,
                "pl": "0.0000",
                "unrealizedPL": "0.0000",
                "marginUsed": "0.0000",
                "commission": "0.0000",
                "financing": "0.0000",
                **sides,
            }
        )
    return out


def open_positions(book: OandaBook) -> Reply:
    return 200, {"positions": _positions(book, only_open=True), "lastTransactionID": book.last_id}


def position(book: OandaBook, name: str) -> Reply:
    found = [p for p in _positions(book, only_open=False) if p["instrument"] == name]
    if not found:
        return bad("instrument")
    return 200, {"position": found[0], "lastTransactionID": book.last_id}


def open_trades(book: OandaBook) -> Reply:
    trades = sorted(book.trades.values(), key=lambda t: -int(t["id"]))
    return 200, {"trades": trades, "lastTransactionID": book.last_id}


def get_order(book: OandaBook, spec: str) -> Reply:
    order = book.find_order(spec)
    if order is None:
        return 404, {
            "errorCode": "ORDER_DOESNT_EXIST",
            "errorMessage": "The Order specified does not exist",
            "lastTransactionID": book.last_id,
        }
    return 200, {"order": order, "lastTransactionID": book.last_id}


def list_orders(book: OandaBook, params: Any) -> Reply:
    state = params.get("state", "PENDING")
    if state not in ("PENDING", "FILLED", "TRIGGERED", "CANCELLED", "ALL"):
        return bad("state")
    count = int(params.get("count", 50))
    orders = [
        o
        for o in sorted(book.orders.values(), key=lambda o: -int(o["id"]))
        if state in ("ALL", o["state"]) and params.get("instrument") in (None, o.get("instrument"))
    ]
    return 200, {"orders": orders[:count], "lastTransactionID": book.last_id}


# ---- candles ----------------------------------------------------------------------------------------------------
def candles(book: OandaBook, name: str, params: Any) -> Reply:
    """Stored mid candles; B/A are mid -/+ half a pip. The newest stored candle is still forming."""
    if name not in book.instruments:
        return bad("instrument")
    gran = params.get("granularity", "S5")
    if gran not in GRANULARITY_SECONDS:
        return bad("granularity")
    price = params.get("price", "M")
    if not price or any(c not in "MBA" for c in price):
        return bad("price")
    start = parse_time(params["from"]) if "from" in params else None
    end = parse_time(params["to"]) if "to" in params else None
    if ("from" in params and start is None) or ("to" in params and end is None):
        return bad("from" if start is None else "to")
    if "count" in params and start is not None and end is not None:
        return 400, {
            "errorMessage": "Invalid value specified for 'count': it cannot be given with both 'from' and 'to'"
        }
    count = int(params.get("count", 500))
    if not 0 < count <= MAX_CANDLES:
        return 400, {"errorMessage": "Invalid value specified for 'count': maximum value is 5000"}
    include_first = params.get("includeFirst", "true") != "false"
    stored = book.candles.get((name, gran), [])
    rows = [
        (i, c)
        for i, c in enumerate(stored)
        if (start is None or c[0] > start or (include_first and c[0] == start))
        and (end is None or c[0] < end)
    ]
    if start is not None and end is not None and len(rows) > MAX_CANDLES:
        return 400, {"errorMessage": "Maximum value for 'count' exceeded"}
    rows = rows[:count] if start is not None else rows[-count:]
    half = Decimal(10) ** book.instruments[name]["pipLocation"] / 2
    places = q(book.instruments[name]["displayPrecision"])
    out = []
    for i, (ts, o, h, low, c, vol) in rows:
        candle: JSON = {"complete": i < len(stored) - 1, "volume": vol, "time": ts}
        for letter, key, shift in (("M", "mid", 0), ("B", "bid", -1), ("A", "ask", 1)):
            if letter in price:
                candle[key] = {
                    k: str((Decimal(v) + shift * half).quantize(places))
                    for k, v in zip("ohlc", (o, h, low, c), strict=True)
                }
        out.append(candle)
    return 200, {"instrument": name, "granularity": gran, "candles": out}


# ---- transactions -------------------------------------------------------------------------------------------------
def _int(params: Any, key: str) -> int | None:
    value = str(params.get(key, ""))
    return int(value) if value.isdigit() else None


def _types(params: Any) -> set[str]:
    return {t for t in str(params.get("type", "")).split(",") if t}


def transaction(book: OandaBook, tx_id: str) -> Reply:
    if not tx_id.isdigit() or not 0 < int(tx_id) <= len(book.txs):
        return 404, {
            "errorCode": "NO_SUCH_TRANSACTION",
            "errorMessage": "The Transaction ID specified does not exist",
        }
    return 200, {"transaction": book.txs[int(tx_id) - 1], "lastTransactionID": book.last_id}


def since_id(book: OandaBook, params: Any) -> Reply:
    first = _int(params, "id")
    if first is None:
        return bad("id")
    txs = book.txs[first : first + MAX_PAGE]
    return 200, {"transactions": txs, "lastTransactionID": book.last_id}


def id_range(book: OandaBook, params: Any) -> Reply:
    first, last = _int(params, "from"), _int(params, "to")
    if first is None or last is None or first > last:
        return bad("from" if first is None else "to")
    types = _types(params)
    txs = [t for t in book.txs[max(first, 1) - 1 : last] if not types or t["type"] in types]
    return 200, {"transactions": txs[:MAX_PAGE], "lastTransactionID": book.last_id}


def pages(book: OandaBook, params: Any, base: str) -> Reply:
    """GET /transactions: the ids in a time range as idrange page URLs of at most pageSize each."""
    start = parse_time(params["from"]) if "from" in params else book.created
    end = parse_time(params["to"]) if "to" in params else book.txs[-1]["time"]
    size = int(params.get("pageSize", 100))
    if start is None or end is None or not 0 < size <= MAX_PAGE:
        return bad("pageSize" if start is not None and end is not None else "from")
    types = _types(params)
    ids = [int(t["id"]) for t in book.txs if start <= t["time"] <= end and (not types or t["type"] in types)]
    filt = f"&type={','.join(sorted(types))}" if types else ""
    urls = [
        f"{base}/transactions/idrange?from={ids[i]}&to={ids[min(i + size, len(ids)) - 1]}{filt}"
        for i in range(0, len(ids), size)
    ]
    body = {
        "from": start,
        "to": end,
        "pageSize": size,
        "count": len(ids),
        "pages": urls,
        "lastTransactionID": book.last_id,
    }
    if types:
        body["type"] = sorted(types)
    return 200, body
