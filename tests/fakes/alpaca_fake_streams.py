"""AlpacaFake's websockets: the trade-updates stream (/stream) and the market data quote stream (/v2/<feed>).

Each connection has a reader (which also answers pings: aiohttp does so only while reading) and a writer
fed by an outbox. `stall()` freezes both for the connections open now (pings go unanswered, as on a hung
server); `drop()` aborts their TCP connections; `raw()` sends a frame as given (e.g. malformed JSON).
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from tests.fakes.alpaca_fake_book import rfc3339

if TYPE_CHECKING:
    from tests.fakes.alpaca_fake import AlpacaFake

_CLOSE = object()  # outbox sentinel: close after what was queued before it


class StreamConn:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request, kind: str) -> None:
        self.ws, self.request, self.kind = ws, request, kind
        self.outbox: asyncio.Queue[Any] = asyncio.Queue()
        self.authed = self.listening = self.stalled = self.dead = False
        self.quotes: set[str] = set()


class StreamHub:
    def __init__(self, fake: AlpacaFake) -> None:
        self.fake = fake
        self.conns: set[StreamConn] = set()
        self.binary = True  # the paper trade-updates stream sends JSON in binary frames
        self.sent: list[dict[str, Any]] = []  # every trade update emitted, in order

    @property
    def connections(self) -> int:
        """Live, listening trade-updates connections."""
        return sum(1 for c in self.conns if c.kind == "trade" and c.listening and not (c.dead or c.stalled))

    # ---- broadcast and controls ---------------------------------------------------------------------------------
    def trade_update(self, data: dict[str, Any]) -> None:
        self.sent.append(data)
        for c in self._listening("trade"):
            c.outbox.put_nowait({"stream": "trade_updates", "data": data})

    def quote(self, symbol: str, price: Decimal) -> None:
        half = Decimal("0.01")
        msg = {"T": "q", "S": symbol, "bx": "V", "bp": float(price - half), "bs": 1, "ax": "V"}
        msg |= {"ap": float(price + half), "as": 1, "c": ["R"], "z": "C", "t": rfc3339(time.time_ns())}
        for c in self._listening("quote"):
            if symbol in c.quotes:
                c.outbox.put_nowait([msg])

    def raw(self, frame: str | bytes) -> None:
        for c in self._listening("trade"):
            c.outbox.put_nowait(frame)

    def stall(self) -> None:
        for c in self.conns:
            c.stalled = True

    def drop(self) -> None:
        for c in list(self.conns):
            c.dead = True
            if c.request.transport is not None:
                c.request.transport.abort()

    async def close_all(self) -> None:
        for c in list(self.conns):
            c.dead, c.stalled = True, False
            await c.ws.close()

    def _listening(self, kind: str) -> list[StreamConn]:
        return [c for c in self.conns if c.kind == kind and c.listening and not c.dead]

    # ---- handlers -----------------------------------------------------------------------------------------------
    async def trade_stream(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, "trade", None)

    async def quote_stream(self, request: web.Request) -> web.WebSocketResponse:
        return await self._serve(request, "quote", [{"T": "success", "msg": "connected"}])

    async def _serve(self, request: web.Request, kind: str, hello: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = StreamConn(ws, request, kind)
        self.conns.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        if hello is not None:
            conn.outbox.put_nowait(hello)
        try:
            while not ws.closed and not conn.dead:
                if conn.stalled:
                    await asyncio.sleep(0.02)
                    continue
                try:
                    msg = await ws.receive(timeout=0.05)
                except TimeoutError:
                    continue
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(body, dict):
                    (self._on_trade if kind == "trade" else self._on_quote)(conn, body)
        finally:
            conn.dead = True
            writer.cancel()
            self.conns.discard(conn)
        return ws

    async def _writer(self, conn: StreamConn) -> None:
        while True:
            item = await conn.outbox.get()
            while conn.stalled:
                await asyncio.sleep(0.02)
            try:
                if item is _CLOSE:
                    await conn.ws.close()
                    return
                if isinstance(item, str | bytes):
                    frame: str | bytes = item
                else:
                    text = json.dumps(item)
                    frame = text.encode() if conn.kind == "trade" and self.binary else text
                if isinstance(frame, bytes):
                    await conn.ws.send_bytes(frame)
                else:
                    await conn.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    def _ok(self, key: Any, secret: Any) -> bool:
        return key == self.fake.key_id and secret == self.fake.secret_key

    def _on_trade(self, conn: StreamConn, body: dict[str, Any]) -> None:
        action, data = body.get("action"), body.get("data") or {}
        if action in ("authenticate", "auth"):
            conn.authed = self._ok(
                data.get("key_id", body.get("key")), data.get("secret_key", body.get("secret"))
            )
            status = "authorized" if conn.authed else "unauthorized"
            conn.outbox.put_nowait(
                {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
            )
            if not conn.authed:
                conn.outbox.put_nowait(_CLOSE)
        elif action == "listen":
            if not conn.authed:
                reply = {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
                conn.outbox.put_nowait(reply)
                return
            streams = [s for s in data.get("streams") or [] if s == "trade_updates"]
            conn.listening = bool(streams)
            conn.outbox.put_nowait({"stream": "listening", "data": {"streams": streams}})

    def _on_quote(self, conn: StreamConn, body: dict[str, Any]) -> None:
        action = body.get("action")
        if action == "auth":
            conn.authed = self._ok(body.get("key"), body.get("secret"))
            if conn.authed:
                conn.outbox.put_nowait([{"T": "success", "msg": "authenticated"}])
            else:
                conn.outbox.put_nowait([{"T": "error", "code": 402, "msg": "auth failed"}])
                conn.outbox.put_nowait(_CLOSE)
        elif action == "subscribe":
            if not conn.authed:
                conn.outbox.put_nowait([{"T": "error", "code": 401, "msg": "not authenticated"}])
                return
            conn.quotes |= set(body.get("quotes") or [])
            conn.listening = True
            reply = {"T": "subscription", "trades": [], "quotes": sorted(conn.quotes), "bars": []}
            conn.outbox.put_nowait([reply])
