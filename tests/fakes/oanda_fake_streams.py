"""The OANDA fake's streams: prices and transactions as newline-delimited JSON with heartbeats.

Each open connection has a queue; new prices and transactions are put on the queues of the connections
that want them, and a heartbeat goes out whenever a connection has been quiet for `heartbeat` seconds
(OANDA: 5 s). Controls can drop, reset, stall or hold a connection, inject a raw line, or refuse new ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from tests.fakes import oanda_fake_views as views
from tests.fakes.oanda_fake_book import OandaBook

STREAMS = ("pricing", "transactions")
_DROP, _RESET, _RELEASE = object(), object(), object()


@dataclass(eq=False)
class _Conn:
    """One open stream connection."""

    kind: str
    instruments: set[str] = field(default_factory=set)
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    stalled: bool = False
    held: list[Any] | None = None  # while holding: data lines wait here, heartbeats still go out


class StreamHub:
    """The open stream connections of one fake server."""

    def __init__(self, book: OandaBook, heartbeat: float) -> None:
        self.book, self.heartbeat = book, heartbeat
        self.connects: Counter[str] = Counter()  # connections accepted, per kind
        self.blocked: set[str] = set()
        self.conns: dict[str, set[_Conn]] = {k: set() for k in STREAMS}
        book.listeners.append(self.on_transaction)

    def close_all(self) -> None:
        for conns in self.conns.values():
            for conn in conns:
                conn.queue.put_nowait(_DROP)

    def on_price(self, name: str) -> None:
        for conn in self.conns["pricing"]:
            if name in conn.instruments:
                conn.queue.put_nowait(self.price_line(name))

    def control(self, kind: str, action: str, line: str = "") -> None:
        """For the open `kind` streams: drop (clean end), reset (abort the TCP connection), stall (go silent),
        hold (keep data lines back, heartbeats still flow) / release (send them late), line (send a raw line);
        block / unblock answer new connections with 503."""

        if action in ("block", "unblock"):
            (self.blocked.add if action == "block" else self.blocked.discard)(kind)
            return
        for conn in list(self.conns[kind]):
            if action == "stall":
                conn.stalled = True
            elif action == "hold":
                conn.held = []
            elif action == "release":
                conn.queue.put_nowait(_RELEASE)
            else:
                conn.queue.put_nowait({"drop": _DROP, "reset": _RESET, "line": line}[action])

    def on_transaction(self, tx: dict[str, Any]) -> None:
        for conn in self.conns["transactions"]:
            conn.queue.put_nowait(tx)

    def price_line(self, name: str) -> dict[str, Any]:
        bid, ask = self.book.prices[name]
        fmt = self.book._fmt_price
        return {
            "type": "PRICE",
            "time": time.time_ns(),
            "instrument": name,
            "tradeable": name not in self.book.halted,
            "status": "tradeable",
            "bids": [{"price": fmt(name, bid), "liquidity": 10000000}],
            "asks": [{"price": fmt(name, ask), "liquidity": 10000000}],
            "closeoutBid": fmt(name, bid),
            "closeoutAsk": fmt(name, ask),
        }

    def heartbeat_line(self, kind: str) -> dict[str, Any]:
        beat: dict[str, Any] = {"type": "HEARTBEAT", "time": time.time_ns()}
        if kind == "transactions":
            beat["lastTransactionID"] = self.book.last_id
        return beat

    async def pricing(self, request: web.Request) -> web.StreamResponse:
        names = [n for n in request.query.get("instruments", "").split(",") if n]
        if not names or any(n not in self.book.instruments for n in names):
            return web.json_response(
                {"errorMessage": "Invalid value specified for 'instruments'"}, status=400
            )
        snapshot = request.query.get("snapshot", "true") != "false"
        return await self._stream(
            request, _Conn("pricing", set(names)), [self.price_line(n) for n in names] if snapshot else []
        )

    async def transactions(self, request: web.Request) -> web.StreamResponse:
        return await self._stream(request, _Conn("transactions"), [])

    async def _stream(self, request: web.Request, conn: _Conn, first: list[Any]) -> web.StreamResponse:
        if conn.kind in self.blocked:
            return web.json_response({"errorMessage": "Service Unavailable"}, status=503)
        unix = request.headers.get("Accept-Datetime-Format", "RFC3339").upper() == "UNIX"
        self.connects[conn.kind] += 1
        self.conns[conn.kind].add(conn)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        try:
            await response.prepare(request)
            for item in first:
                await response.write(json.dumps(views.render(item, unix)).encode() + b"\n")
            while request.transport is not None and not request.transport.is_closing():
                try:
                    item = await asyncio.wait_for(conn.queue.get(), self.heartbeat)
                except TimeoutError:
                    item = self.heartbeat_line(conn.kind)
                if item is _DROP:
                    break
                if item is _RESET:
                    request.transport.abort()
                    break
                if conn.stalled:
                    continue
                if item is _RELEASE:
                    held, conn.held = conn.held or [], None
                    for line in held:
                        await response.write(json.dumps(views.render(line, unix)).encode() + b"\n")
                    continue
                if conn.held is not None and isinstance(item, dict) and item.get("type") != "HEARTBEAT":
                    conn.held.append(item)
                    continue
                line = item if isinstance(item, str) else json.dumps(views.render(item, unix))
                await response.write(line.encode() + b"\n")
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.conns[conn.kind].discard(conn)
        return response
