"""Live top of book from Alpaca's market data websocket (wss://stream.data.alpaca.markets/v2/<feed>).

Protocol (documented): on connect `[{"T": "success", "msg": "connected"}]`; send `{"action": "auth", "key",
"secret"}`, receive `[{"T": "success", "msg": "authenticated"}]` (or `{"T": "error", "code": 402}`); send
`{"action": "subscribe", "quotes": [...]}`, receive `[{"T": "subscription", ...}]`; then quotes
`{"T": "q", "S": symbol, "bp", "ap", "t", ...}`, several per frame. Prices are JSON numbers: parsed as Decimal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection

from traderbot.brokers.alpaca.config import AlpacaConfig
from traderbot.brokers.alpaca.mapping import dec, parse_ts
from traderbot.brokers.alpaca.websocket import Handshake, Interrupted, Reconnected, expect, messages
from traderbot.brokers.base import BrokerAuthError, BrokerUnavailable, MalformedMessage, PriceTick

log = logging.getLogger("traderbot.brokers.alpaca")
NAME = "alpaca quote stream"
_AUTH_CODES = {401, 402, 403, 404}  # not authenticated, auth failed, already authenticated, auth timeout


def _control(msg: dict[str, Any]) -> bool:
    return msg.get("T") in ("success", "error", "subscription")


def _check(msg: dict[str, Any]) -> None:
    if msg.get("T") != "error":
        return
    code, text = msg.get("code"), msg.get("msg", "")
    if code in _AUTH_CODES:
        raise BrokerAuthError(f"Alpaca refused the market data stream login: {text} (code {code}).")
    raise BrokerUnavailable(f"Alpaca market data stream error: {text} (code {code}).")


def _handshake(config: AlpacaConfig, symbols: Sequence[str]) -> Handshake:
    async def login(ws: ClientConnection) -> None:
        timeout = config.stream_open_timeout
        _check(await expect(ws, NAME, timeout, _control))  # the welcome
        auth = {"action": "auth", "key": config.key_id.reveal(), "secret": config.secret_key.reveal()}
        await ws.send(json.dumps(auth))
        _check(await expect(ws, NAME, timeout, _control))
        await ws.send(json.dumps({"action": "subscribe", "quotes": list(symbols)}))
        reply = await expect(ws, NAME, timeout, _control)
        _check(reply)
        missing = set(symbols) - set(reply.get("quotes") or [])
        if reply.get("T") != "subscription" or missing:
            raise BrokerUnavailable(f"Alpaca did not subscribe the quotes of {sorted(missing)}.")

    return login


def tick(msg: dict[str, Any]) -> PriceTick:
    try:
        return PriceTick(str(msg["S"]), parse_ts(msg["t"]), dec(msg["bp"], "bp"), dec(msg["ap"], "ap"))
    except KeyError as exc:
        raise MalformedMessage(f"quote lacks {exc}") from exc


async def quotes(config: AlpacaConfig, symbols: Sequence[str]) -> AsyncIterator[PriceTick]:
    """PriceTicks for `symbols` forever (reconnecting; quotes missed meanwhile are simply newer ones later)."""
    async for msg in messages(NAME, config.quotes_endpoint, _handshake(config, symbols), config):
        if isinstance(msg, Reconnected | Interrupted):
            continue
        kind = msg.get("T")
        if kind == "error":
            log.warning("%s: error %s: %s", NAME, msg.get("code"), msg.get("msg"))
            continue
        if kind != "q":
            continue
        try:
            yield tick(msg)
        except MalformedMessage as exc:
            log.warning("%s: skipping a malformed quote: %s", NAME, exc)
