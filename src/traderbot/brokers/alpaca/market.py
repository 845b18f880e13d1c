"""Market data conversions: Alpaca assets -> our instruments, timeframes, and bars paged by next_page_token.

Bars are float market data by design (our `Bar`); their JSON numbers are still parsed as Decimal first and
rounded to float once, in one place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from traderbot.brokers.alpaca.mapping import dec, iso, opt_dec, parse_ts
from traderbot.brokers.base import BrokerRejected, MalformedMessage
from traderbot.model.data import Bar
from traderbot.model.instrument import INSTRUMENTS, AssetClass, Instrument
from traderbot.model.timeframe import Timeframe

log = logging.getLogger("traderbot.brokers.alpaca")
FRACTIONAL_LOT = Decimal("0.000000001")  # Alpaca accepts up to 9 decimals of a share
PageFetcher = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def instrument(raw: dict[str, Any], fractional: bool) -> Instrument | None:
    """A tradable US equity asset -> Instrument (our equity defaults, refined by the asset's own rules)."""
    if not raw.get("tradable") or raw.get("status", "active") != "active":
        return None
    symbol = str(raw["symbol"])
    tick = opt_dec(raw.get("price_increment"), "price_increment") or Decimal("0.01")
    lot = opt_dec(raw.get("min_trade_increment"), "min_trade_increment")
    if lot is None:
        lot = FRACTIONAL_LOT if fractional and raw.get("fractionable") else Decimal(1)
    min_qty = opt_dec(raw.get("min_order_size"), "min_order_size") or lot
    known = INSTRUMENTS.get(symbol)
    return Instrument(
        id=symbol,
        asset_class=AssetClass.EQUITY,
        base=symbol,
        quote="USD",
        pip_size=tick,
        tick_size=tick,
        lot_size=lot,
        min_quantity=min_qty,
        price_precision=max(0, -int(tick.normalize().as_tuple().exponent)),
        margin_rate=Decimal(1),
        calendar=known.calendar if known else "XNYS",
    )


def timeframe_param(tf: Timeframe) -> str:
    """Our timeframe -> Alpaca's ("15m" -> "15Min", "4h" -> "4Hour", "1d" -> "1Day")."""
    n, unit = int(tf.name[:-1]), tf.name[-1]
    if unit == "m" and n <= 59:
        return f"{n}Min"
    if unit == "h" and n <= 23:
        return f"{n}Hour"
    if tf.name == "1d":
        return "1Day"
    raise BrokerRejected(
        f"Alpaca has no {tf.name} bars: use 1-59 minutes, 1-23 hours or 1 day.", code="UNSUPPORTED"
    )


def bar(raw: dict[str, Any], instrument_id: str, tf: Timeframe) -> Bar:
    try:
        ts = parse_ts(raw["t"])
        return Bar(
            instrument_id,
            tf.name,
            ts,
            ts + tf.ns,
            float(dec(raw["o"], "o")),
            float(dec(raw["h"], "h")),
            float(dec(raw["l"], "l")),
            float(dec(raw["c"], "c")),
            float(dec(raw["v"], "v")),
        )
    except KeyError as exc:
        raise MalformedMessage(f"Alpaca bar lacks {exc}") from exc


def instruments(rows: list[dict[str, Any]], fractional: bool) -> list[Instrument]:
    out = []
    for raw in rows:
        try:
            inst = instrument(raw, fractional)
        except (MalformedMessage, KeyError, ValueError) as exc:
            log.warning("alpaca: skipping asset %s: %s", raw.get("symbol"), exc)
            continue
        if inst is not None:
            out.append(inst)
    return out


async def bars(
    fetch: PageFetcher, instrument_id: str, timeframe: str, start_ns: int, end_ns: int, feed: str
) -> list[Bar]:
    """GET /v2/stocks/{symbol}/bars page by page; keep complete bars with open time in [start_ns, end_ns)."""
    try:
        tf = Timeframe.parse(timeframe)
    except ValueError as exc:
        raise BrokerRejected(str(exc), code="UNSUPPORTED") from exc
    params: dict[str, Any] = {
        "timeframe": timeframe_param(tf),
        "start": iso(start_ns),
        "end": iso(end_ns),  # inclusive at Alpaca: the bar opening at end_ns is dropped below
        "limit": 10000,
        "feed": feed,
        "adjustment": "raw",
        "sort": "asc",
    }
    now, found, seen = time.time_ns(), {}, set()
    while True:
        page = await fetch(dict(params))
        for raw in page.get("bars") or []:
            try:
                b = bar(raw, instrument_id, tf)
            except MalformedMessage as exc:
                log.warning("alpaca: skipping a malformed bar of %s: %s", instrument_id, exc)
                continue
            if start_ns <= b.ts < end_ns and b.ts_close <= now:  # never a bar still forming
                found[b.ts] = b
        token = page.get("next_page_token")
        if not token:
            return [found[ts] for ts in sorted(found)]
        if token in seen:
            raise MalformedMessage(f"Alpaca repeated the page token of {instrument_id} bars.")
        seen.add(token)
        params["page_token"] = token
