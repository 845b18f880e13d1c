"""Open positions and trades, and closing them with OANDA's trade close and position closeout."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

from traderbot.brokers.base import ZERO, BrokerOrder, BrokerPosition
from traderbot.brokers.oanda.client import OandaClient
from traderbot.brokers.oanda.events import ack
from traderbot.brokers.oanda.mapping import OandaTrade, to_position, to_trade
from traderbot.brokers.oanda.wire import SymbolMap, dec


async def open_positions(client: OandaClient, symbols: SymbolMap) -> list[BrokerPosition]:
    body = await client.get(f"{client.account_path}/openPositions")
    return [p for raw in body.get("positions") or [] if (p := to_position(raw, symbols)) is not None]


async def open_trades(client: OandaClient, symbols: SymbolMap) -> list[OandaTrade]:
    body = await client.get(f"{client.account_path}/openTrades")
    return [to_trade(raw, symbols) for raw in body.get("trades") or []]


async def close_trade(
    client: OandaClient, symbols: SymbolMap, trade_id: str, units: Decimal | None
) -> BrokerOrder:
    body: dict[str, Any] = {"units": "ALL" if units is None else str(units)}
    path = f"{client.account_path}/trades/{quote(trade_id, safe='@')}/close"
    reply = client.check(
        await client.request("PUT", path, body=body, accept=(400, 404)), f"close of trade {trade_id}"
    )
    b = reply.body
    return ack(
        b.get("orderCreateTransaction"),
        b.get("orderFillTransaction"),
        b.get("orderCancelTransaction"),
        symbols,
    )


async def close_position(client: OandaClient, symbols: SymbolMap, name: str) -> list[BrokerOrder]:
    """Close both sides that are open ("ALL"), leaving the other "NONE"; [] when already flat."""
    pos = (await client.get(f"{client.account_path}/positions/{name}")).get("position") or {}
    long = dec((pos.get("long") or {}).get("units", "0"), "long.units")
    short = dec((pos.get("short") or {}).get("units", "0"), "short.units")
    if long == ZERO and short == ZERO:
        return []
    body = {"longUnits": "ALL" if long else "NONE", "shortUnits": "ALL" if short else "NONE"}
    path = f"{client.account_path}/positions/{name}/close"
    reply = client.check(await client.request("PUT", path, body=body, accept=(400, 404)), f"close of {name}")
    b = reply.body
    return [
        ack(
            b[f"{side}OrderCreateTransaction"],
            b.get(f"{side}OrderFillTransaction"),
            b.get(f"{side}OrderCancelTransaction"),
            symbols,
        )
        for side in ("long", "short")
        if isinstance(b.get(f"{side}OrderCreateTransaction"), dict)
    ]
