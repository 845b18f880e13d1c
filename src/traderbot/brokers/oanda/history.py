"""Paged reads: candles (at most 5000 per request) and transaction ranges (sinceid, idrange, pages)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from traderbot.brokers.base import MalformedMessage
from traderbot.brokers.oanda.client import JSON, OandaClient
from traderbot.brokers.oanda.config import OandaConfig
from traderbot.brokers.oanda.mapping import granularity, to_bar
from traderbot.brokers.oanda.wire import format_time, parse_time
from traderbot.model.data import Bar

log = logging.getLogger("traderbot.brokers.oanda")

MAX_CANDLES = 5000  # OANDA's maximum `count` per candles request
PAGE_SIZE = 1000  # OANDA's maximum pageSize for the transactions endpoint


def _list(body: JSON, key: str, what: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise MalformedMessage(f"OANDA answered {what} without the documented {key!r} list")
    return value


def tx_id(tx: Any) -> int:
    value = tx.get("id") if isinstance(tx, dict) else None
    if isinstance(value, str | int) and str(value).isdigit():
        return int(value)
    raise MalformedMessage(f"OANDA sent a transaction without a numeric id: {str(tx)[:200]}")


async def candles(
    client: OandaClient,
    config: OandaConfig,
    oanda_name: str,
    instrument_id: str,
    timeframe: str,
    start_ns: int,
    end_ns: int,
) -> list[Bar]:
    """Complete bars with open time in [start_ns, end_ns), oldest first.

    Pages are `from` + `count=5000` (OANDA refuses `count` together with both `from` and `to`); the next
    page starts at the last candle received with includeFirst=false, so no candle comes twice and market
    closures cost nothing. Paging stops at end_ns, at a short page, or at the still-forming candle.
    """
    gran, tf = granularity(timeframe)
    path = f"/v3/instruments/{oanda_name}/candles"
    bars: list[Bar] = []
    cursor, first = start_ns, True
    while cursor < end_ns:
        params: dict[str, Any] = {
            "granularity": gran,
            "price": config.price_component,
            "from": format_time(cursor),
            "count": MAX_CANDLES,
        }
        if not first:
            params["includeFirst"] = "false"
        if gran == "D" and config.daily_alignment is not None:
            params["dailyAlignment"] = config.daily_alignment
        if gran == "D" and config.alignment_timezone:
            params["alignmentTimezone"] = config.alignment_timezone
        page = _list(await client.get(path, params), "candles", f"candles of {oanda_name}")
        last, forming = cursor, False
        for raw in page:
            if not isinstance(raw, dict):
                raise MalformedMessage(f"OANDA sent a candle of {oanda_name} that is not an object")
            ts = parse_time(raw.get("time"), "candle time")
            last = max(last, ts)
            forming = forming or raw.get("complete") is not True
            if start_ns <= ts < end_ns:
                bar = to_bar(raw, config.price_component, instrument_id, tf)
                if bar is not None:
                    bars.append(bar)
        if len(page) < MAX_CANDLES or forming or last <= cursor:
            break
        cursor, first = last, False
    return bars


async def since_id(client: OandaClient, last_id: int) -> list[JSON]:
    """Every transaction after `last_id`, oldest first (asking again while the answer stops short)."""
    out: list[JSON] = []
    cursor = last_id
    while True:
        body = await client.get(f"{client.account_path}/transactions/sinceid", {"id": cursor})
        page = _list(body, "transactions", "transactions/sinceid")
        if not page:
            return out
        out.extend(page)
        cursor = max(tx_id(tx) for tx in page)
        last = str(body.get("lastTransactionID", ""))
        if not last.isdigit() or cursor >= int(last):
            return out


async def id_range(client: OandaClient, first: int, last: int, types: str = "") -> list[JSON]:
    """Transactions with first <= id <= last (optionally of the given comma-separated types)."""
    out: list[JSON] = []
    cursor = first
    while cursor <= last:
        params: dict[str, Any] = {"from": cursor, "to": last}
        if types:
            params["type"] = types
        page = _list(
            await client.get(f"{client.account_path}/transactions/idrange", params), "transactions", "idrange"
        )
        out.extend(page)
        if len(page) < PAGE_SIZE:
            break
        cursor = max(tx_id(tx) for tx in page) + 1
    return out


async def transactions_since(client: OandaClient, since_ns: int, types: str) -> list[JSON]:
    """Transactions of `types` at or after `since_ns`, through the documented pages (idrange URLs).

    Only the path and query of each page URL are used, so the token never goes to another host.
    """
    params: dict[str, Any] = {"type": types, "pageSize": PAGE_SIZE}
    if since_ns > 0:
        params["from"] = format_time(since_ns)
    body = await client.get(f"{client.account_path}/transactions", params)
    out: list[JSON] = []
    for page in _list(body, "pages", "transactions"):
        url = httpx.URL(str(page))
        if not url.path.startswith(f"{client.account_path}/transactions/"):
            raise MalformedMessage(f"OANDA sent a transactions page outside this account: {url.path}")
        page_body = await client.get(url.path, dict(url.params))
        out.extend(_list(page_body, "transactions", "a transactions page"))
    return out
