"""The trade-updates stream (wss://paper-api.alpaca.markets/stream) -> our order events.

Protocol (Alpaca's documented websocket streaming): send `{"action": "authenticate", "data": {"key_id",
"secret_key"}}`, receive `{"stream": "authorization", "data": {"status": "authorized"}}`, send `{"action":
"listen", "data": {"streams": ["trade_updates"]}}`, receive `{"stream": "listening", ...}`, then messages
`{"stream": "trade_updates", "data": {"event", "order", "timestamp", "execution_id", "price", "qty",
"position_qty"}}`. The paper server sends them as binary frames holding JSON.

Alpaca has no replay: after a reconnect we yield StreamReconnected and the caller reconciles (orders by
client order id, fills from account activities).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection

from traderbot.brokers.alpaca.config import AlpacaConfig
from traderbot.brokers.alpaca.mapping import base_client_id, dec, opt_dec, parse_ts
from traderbot.brokers.alpaca.websocket import Handshake, Interrupted, Reconnected, expect, messages
from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerEvent,
    BrokerUnavailable,
    MalformedMessage,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.core.messages import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
)

log = logging.getLogger("traderbot.brokers.alpaca")
NAME = "alpaca trade-updates stream"
# events that change nothing we track: acknowledged requests and intermediate states
_QUIET = {"pending_new", "accepted", "pending_cancel", "pending_replace", "done_for_day", "calculated"}
_QUIET |= {"stopped", "suspended", "restated", "held", "order_replace_rejected"}


def trade_update_events(data: Any) -> list[OrderEvent]:
    """One trade update -> our events (strategy_id "": Alpaca does not know it). Raises MalformedMessage."""
    try:
        event, order = str(data["event"]), data["order"]
        raw_cid = str(order["client_order_id"])
        cid, iid, venue = base_client_id(raw_cid), str(order["symbol"]), str(order["id"])
        ts = parse_ts(data.get("timestamp") or order.get("updated_at"))
    except (KeyError, TypeError) as exc:
        raise MalformedMessage(f"trade update lacks a documented field: {exc!r}") from exc
    if event in ("fill", "partial_fill"):
        trade_id = data.get("execution_id") or data.get("id")
        if not trade_id:
            raise MalformedMessage(f"{event} of {raw_cid} has no execution_id")
        return [
            OrderFilled(
                cid,
                iid,
                "",
                ts,
                trade_id=str(trade_id),
                side="buy" if order.get("side") == "buy" else "sell",
                quantity=dec(data.get("qty"), "qty"),  # this execution's size, not the order's cumulative
                price=dec(data.get("price"), "price"),
                venue_order_id=venue,
            )
        ]
    replacement = raw_cid != cid or bool(order.get("replaces"))
    if event == "new" and not replacement:
        return [OrderAccepted(cid, iid, "", ts, venue_order_id=venue)]
    if event in ("new", "replaced"):  # the replacement order went live, or the old one was replaced
        why = f"replaced by {order.get('replaced_by')}" if event == "replaced" else f"now order {venue}"
        values = {} if event == "replaced" else _values(order)
        return [OrderUpdated(cid, iid, "", ts, reason=why, **values)]
    if event == "canceled":
        return [OrderCanceled(cid, iid, "", ts, reason="canceled at Alpaca")]
    if event == "expired":
        return [OrderExpired(cid, iid, "", ts, reason="expired at Alpaca")]
    if event == "rejected":
        why = order.get("reject_reason") or data.get("reason") or "refused by Alpaca"
        return [OrderRejected(cid, iid, "", ts, reason=f"ALPACA_REJECTED: {why}")]
    if event == "order_cancel_rejected":
        return [OrderCancelRejected(cid, iid, "", ts, reason="Alpaca refused the cancel")]
    if event not in _QUIET:
        log.info("%s: ignoring unknown event %r for %s", NAME, event, raw_cid)
    return []


def _values(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "quantity": opt_dec(order.get("qty"), "qty"),
        "price": opt_dec(order.get("limit_price"), "limit_price"),
        "trigger_price": opt_dec(order.get("stop_price"), "stop_price"),
    }


def _handshake(config: AlpacaConfig) -> Handshake:
    async def login(ws: ClientConnection) -> None:
        key, secret = config.key_id.reveal(), config.secret_key.reveal()
        auth = {"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}
        await ws.send(json.dumps(auth))
        reply = await expect(
            ws, NAME, config.stream_open_timeout, lambda m: m.get("stream") == "authorization"
        )
        status = (reply.get("data") or {}).get("status")
        if status != "authorized":
            raise BrokerAuthError(
                f"Alpaca refused the trade-updates stream login (status {status!r}): check APCA_API_KEY_ID "
                "and APCA_API_SECRET_KEY and that paper keys go to the paper stream."
            )
        await ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        reply = await expect(ws, NAME, config.stream_open_timeout, lambda m: m.get("stream") == "listening")
        if "trade_updates" not in ((reply.get("data") or {}).get("streams") or []):
            raise BrokerUnavailable("Alpaca did not grant the trade_updates stream.")

    return login


async def trade_updates(config: AlpacaConfig) -> AsyncIterator[BrokerEvent]:
    """Order events forever; StreamReconnected after every reconnect; malformed updates logged and skipped."""
    async for msg in messages(NAME, config.stream_endpoint, _handshake(config), config):
        if isinstance(msg, Interrupted):
            yield StreamInterrupted("alpaca", time.time_ns(), msg.reason)
            continue
        if isinstance(msg, Reconnected):
            log.warning("%s reconnected after %s: reconcile orders and fills", NAME, msg.reason)
            yield StreamReconnected("alpaca", time.time_ns(), msg.reason)
            continue
        if msg.get("stream") != "trade_updates":
            continue  # e.g. a repeated "listening" acknowledgement
        try:
            events = trade_update_events(msg.get("data"))
        except MalformedMessage as exc:
            log.warning("%s: skipping a malformed trade update: %s", NAME, exc)
            continue
        for ev in events:
            yield ev
