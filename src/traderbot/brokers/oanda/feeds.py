"""The two live feeds: prices (PriceTick) and account transactions (order events), with gap recovery.

Transactions carry increasing ids. The feed remembers the last id it handled; after (re)connecting it
reads `/transactions/sinceid?id=<last>` to replay what the stream could not deliver, skips anything it has
already handled (so nothing is reported twice), then yields StreamReconnected and goes on with the live
stream. A heartbeat whose lastTransactionID is ahead of the last id handled triggers the same replay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from traderbot.brokers.base import (
    BrokerAuthError,
    BrokerError,
    BrokerEvent,
    MalformedMessage,
    PriceTick,
    StreamInterrupted,
    StreamReconnected,
)
from traderbot.brokers.oanda.client import JSON, OandaClient
from traderbot.brokers.oanda.events import OrderIndex, to_event
from traderbot.brokers.oanda.history import since_id, tx_id
from traderbot.brokers.oanda.streams import StreamClosed, StreamHost, StreamSession
from traderbot.brokers.oanda.wire import SymbolMap, dec, parse_time, text

log = logging.getLogger("traderbot.brokers.oanda")


def to_tick(msg: JSON, symbols: SymbolMap) -> PriceTick:
    """A PRICE line -> top of book (bids[0] / asks[0]), exact."""
    name = text(msg, "instrument")
    bids, asks = msg.get("bids"), msg.get("asks")
    if not (isinstance(bids, list) and bids and isinstance(asks, list) and asks):
        raise MalformedMessage(f"OANDA PRICE for {name} has no bids or asks")
    return PriceTick(
        symbols.ours(name),
        parse_time(msg.get("time"), "PRICE time"),
        dec(bids[0].get("price"), f"{name} bid"),
        dec(asks[0].get("price"), f"{name} ask"),
    )


async def price_ticks(
    host: StreamHost, account_path: str, names: Sequence[str], symbols: SymbolMap
) -> AsyncIterator[PriceTick]:
    params = {"instruments": ",".join(names), "snapshot": "true"}
    session = StreamSession(host, f"{account_path}/pricing/stream", params, "pricing")
    try:
        await session.open()
        while True:
            try:
                msg = await session.next()
            except StreamClosed:
                await session.open()
                continue
            kind = msg.get("type")
            if kind == "HEARTBEAT":
                continue
            if kind != "PRICE":
                log.debug("OANDA pricing stream line of type %r ignored", kind)
                continue
            try:
                tick = to_tick(msg, symbols)
            except (MalformedMessage, AttributeError) as exc:
                log.warning("OANDA pricing stream line skipped: %s", exc)
                continue
            yield tick
    finally:
        await session.close()


class TransactionFeed:
    """Order events from the account's transaction stream, replaying gaps through sinceid."""

    def __init__(
        self,
        client: OandaClient,
        host: StreamHost,
        symbols: SymbolMap,
        index: OrderIndex,
        currency: Callable[[], Awaitable[str]],
        resolve: Callable[[str], Awaitable[None]],
    ) -> None:
        self.client, self.host, self.symbols, self.index = client, host, symbols, index
        self._currency, self._resolve = currency, resolve
        self.last_id = 0

    async def events(self) -> AsyncIterator[BrokerEvent]:
        summary = await self.client.get(f"{self.client.account_path}/summary")
        last = str(summary.get("lastTransactionID", ""))
        if not last.isdigit():
            raise MalformedMessage("OANDA's account summary lacks a numeric lastTransactionID")
        self.last_id = int(last)
        session = StreamSession(
            self.host, f"{self.client.account_path}/transactions/stream", None, "transactions"
        )
        reason = ""
        try:
            await session.open()
            while True:
                try:
                    async for ev in self._replay():
                        yield ev
                except BrokerAuthError:
                    raise
                except BrokerError as exc:  # recovery failed: reconnect (after backoff) and try again
                    log.warning("OANDA transactions replay failed (%s); reconnecting", exc)
                    session.note_failure()
                    await session.open()
                    continue
                if reason:
                    yield StreamReconnected("oanda", time.time_ns(), reason)
                try:
                    async for ev in self._live(session):
                        yield ev
                except StreamClosed as exc:
                    reason = exc.reason
                    yield StreamInterrupted("oanda", time.time_ns(), reason)
                    await session.open()
        finally:
            await session.close()

    async def _live(self, session: StreamSession) -> AsyncIterator[BrokerEvent]:
        while True:
            msg = await session.next()
            if msg.get("type") == "HEARTBEAT":
                ahead = str(msg.get("lastTransactionID", ""))
                if ahead.isdigit() and int(ahead) > self.last_id:
                    log.warning(
                        "OANDA heartbeat at transaction %s, last handled %d: replaying", ahead, self.last_id
                    )
                    try:
                        async for replayed in self._replay():
                            yield replayed
                    except BrokerAuthError:
                        raise
                    except BrokerError as exc:
                        session.note_failure()
                        raise StreamClosed(f"replay failed ({exc})") from exc
                continue
            ev = await self._handle(msg)
            if ev is not None:
                yield ev

    async def _replay(self) -> AsyncIterator[BrokerEvent]:
        for tx in await since_id(self.client, self.last_id):
            ev = await self._handle(tx)
            if ev is not None:
                yield ev

    async def _handle(self, tx: Any) -> BrokerEvent | None:
        try:
            number = tx_id(tx)
        except MalformedMessage as exc:
            log.warning("OANDA transactions stream line skipped: %s", exc)
            return None
        if number <= self.last_id:
            return None  # already handled (stream and replay overlap)
        self.last_id = number
        try:
            order_id = str(tx.get("orderID") or "")
            cancel = tx.get("type") in ("ORDER_CANCEL", "ORDER_CANCEL_REJECT")
            if cancel and order_id and self.index.get(order_id) is None:
                await self._resolve(order_id)
            return to_event(tx, self.symbols, await self._currency(), self.index)
        except (MalformedMessage, AttributeError, TypeError) as exc:
            log.warning("OANDA transaction %d skipped: %s", number, exc)
            return None
