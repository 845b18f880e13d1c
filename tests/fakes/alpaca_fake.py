"""AlpacaFake: a local Alpaca on 127.0.0.1 speaking Trading API v2, Market Data v2 bars and both websockets.

HTTP routes check APCA-API-KEY-ID / APCA-API-SECRET-KEY (a missing or unknown key: 401 {"code": 40110000};
a wrong secret: 403 {"message": "forbidden."}). The trade-updates stream (/stream) logs in with the
"authenticate" action and sends JSON in binary frames like the paper server (`stream_binary=False` for text);
the quote stream (/v2/<feed>) speaks the market data protocol. State lives in `AlpacaBook`.

Controls for tests: `fail_next` (status with Alpaca's error body, 429 with Retry-After, 5xx; optionally after
executing the request), `delay_next` (answer after the client's timeout), `partial_fill_next`, `fill_rest`,
`set_price`, `set_bars`, `stall_stream`, `drop_stream`, `send_stream_raw`; `submissions` counts each client
order id's POSTs and `requests` logs every request.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fnmatch import fnmatch
from typing import Any

from aiohttp import web
from tests.fakes.alpaca_fake_book import AlpacaBook, FakeReject, rfc3339
from tests.fakes.alpaca_fake_streams import StreamHub


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


AUTH_FAILED = {"code": 40110000, "message": "request is not authorized"}
TIMEFRAMES = ("Min", "T", "Hour", "H", "Day", "D", "Week", "W", "Month", "M")


@dataclass
class _Rule:
    method: str
    path: str
    times: int
    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    execute: bool = False


class AlpacaFake:
    """Use as `async with AlpacaFake() as fake:`; point AlpacaConfig at fake.trading_url etc."""

    def __init__(
        self,
        key_id: str = "PKFAKEKEY",
        secret_key: str = "fake-secret",
        *,
        prices: dict[str, Decimal] | None = None,
        cash: Decimal = Decimal("100000"),
    ) -> None:
        self.key_id, self.secret_key = key_id, secret_key
        self.book = AlpacaBook(prices or {"AAPL": Decimal("190.00"), "MSFT": Decimal("410.00")}, cash)
        self.assets: dict[str, dict[str, Any]] = {s: self._asset(s) for s in self.book.prices}
        self.bars: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bars_page_size = 10000
        self.submissions: Counter[str] = Counter()  # POST /v2/orders per client order id
        self.order_bodies: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.hub = StreamHub(self)
        self.book.emit = self.hub.trade_update
        self._rules: list[_Rule] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle --------------------------------------------------------------------------------------------
    async def __aenter__(self) -> AlpacaFake:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/stream", self.hub.trade_stream)
        r.add_get("/v2/{feed:iex|sip|test}", self.hub.quote_stream)
        r.add_get("/v2/account", self._account)
        r.add_get("/v2/assets", self._assets)
        r.add_get("/v2/positions", self._positions)
        r.add_get("/v2/account/activities/FILL", self._activities)
        r.add_post("/v2/orders", self._submit)
        r.add_get("/v2/orders", self._orders)
        r.add_get("/v2/orders:by_client_order_id", self._by_client)
        r.add_get("/v2/orders/{id}", self._order)
        r.add_delete("/v2/orders/{id}", self._cancel)
        r.add_patch("/v2/orders/{id}", self._replace)
        r.add_get("/v2/stocks/{symbol}/bars", self._bars)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def trading_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    data_url = trading_url

    @property
    def stream_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    @property
    def quotes_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/iex"

    # ---- controls ----------------------------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        code: int | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        execute: bool = False,
    ) -> None:
        """The next `times` matching requests answer `status` (after doing the work when `execute`)."""
        headers: dict[str, str] = {}
        body: Any = {"code": code or status * 100000 + 10000, "message": message or "error"}
        if status == 429:
            body = {"code": code or 42910000, "message": message or "rate limit exceeded"}
            headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0"}
            headers["X-RateLimit-Reset"] = str(int(time.time() + (retry_after or 1)))
            if retry_after is not None:
                headers["Retry-After"] = f"{retry_after:g}"
        elif status in (502, 503, 504):
            body = f"<html><body><h1>{status} Gateway error</h1></body></html>"
        self._rules.append(_Rule(method.upper(), path, times, status, body, headers, execute=execute))

    def delay_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """The next matching requests are executed, then answered only after `seconds`."""
        self._rules.append(_Rule(method.upper(), path, times, delay=seconds))

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.book.set_price(symbol, price)
        self.hub.quote(symbol, price)

    def partial_fill_next(self, *quantities: Decimal) -> None:
        """The next market orders fill only these quantities at first; `fill_rest` fills the remainder."""
        self.book.partial_next.extend(quantities)

    def fill_rest(self, ref: str, price: Decimal | None = None) -> None:
        self.book.fill_rest(ref, price)

    def set_bars(self, symbol: str, timeframe: str, bars: list[dict[str, Any]]) -> None:
        self.bars[(symbol, timeframe)] = sorted(bars, key=lambda b: b["t"])

    def add_asset(self, symbol: str, price: Decimal, **fields: Any) -> None:
        self.book.prices[symbol] = price
        self.assets[symbol] = {**self._asset(symbol), **fields}

    def stall_stream(self) -> None:
        self.hub.stall()

    def drop_stream(self) -> None:
        self.hub.drop()

    def send_stream_raw(self, frame: str | bytes) -> None:
        self.hub.raw(frame)

    @property
    def stream_connections(self) -> int:
        return self.hub.connections

    def requests_to(self, method: str, path: str) -> list[dict[str, str]]:
        return [q for m, p, q in self.requests if m == method and fnmatch(p, path)]

    # ---- plumbing ----------------------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await handler(request)  # websockets log in with a message, not headers
        key, secret = request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")
        if key != self.key_id:
            return web.json_response(AUTH_FAILED, status=401)
        if secret != self.secret_key:
            return web.json_response({"message": "forbidden."}, status=403)
        if request.method == "POST" and request.path == "/v2/orders":
            try:
                body = await request.json()
                self.order_bodies.append(body)
                self.submissions[str(body.get("client_order_id"))] += 1
            except (ValueError, AttributeError):
                pass
        rule = self._take_rule(request)
        if rule is None:
            return await self._guarded(handler, request)
        if rule.delay:
            response = await self._guarded(handler, request)
            await asyncio.sleep(rule.delay)
            return response
        if rule.execute:
            await self._guarded(handler, request)
        if isinstance(rule.body, str):
            return web.Response(text=rule.body, status=rule.status, content_type="text/html")
        return web.json_response(rule.body, status=rule.status, headers=rule.headers)

    async def _guarded(self, handler: Any, request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except FakeReject as exc:
            return web.json_response({"code": exc.code, "message": exc.message}, status=exc.status)

    def _take_rule(self, request: web.Request) -> _Rule | None:
        for rule in self._rules:
            if rule.method == request.method and fnmatch(request.path, rule.path):
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
                return rule
        return None

    def _asset(self, symbol: str) -> dict[str, Any]:
        return {
            "id": self.book.asset_id(symbol),
            "class": "us_equity",
            "exchange": "NASDAQ",
            "symbol": symbol,
            "name": f"{symbol} Inc. Common Stock",
            "status": "active",
            "tradable": True,
            "marginable": True,
            "shortable": True,
            "easy_to_borrow": True,
            "fractionable": True,
            "maintenance_margin_requirement": 30,
            "attributes": [],
        }

    # ---- trading routes ----------------------------------------------------------------------------------------
    async def _account(self, request: web.Request) -> web.Response:
        b = self.book
        long_value = sum((q * b.prices[s] for s, (q, _) in b.positions.items() if q > 0), Decimal(0))
        short_value = sum((q * b.prices[s] for s, (q, _) in b.positions.items() if q < 0), Decimal(0))
        return web.json_response(
            {
                "id": "0d3c6f5e-6a3b-4c57-9a86-64a1d2a5e0f1",
                "account_number": "PA3FAKE00001",
                "status": "ACTIVE",
                "currency": "USD",
                "cash": str(b.cash),
                "portfolio_value": str(b.equity()),
                "equity": str(b.equity()),
                "last_equity": str(b.equity()),
                "buying_power": str(b.buying_power()),
                "long_market_value": str(long_value),
                "short_market_value": str(short_value),
                "initial_margin": "0",
                "maintenance_margin": "0",
                "multiplier": "1",
                "pattern_day_trader": False,
                "trading_blocked": False,
                "account_blocked": False,
                "created_at": rfc3339(1_600_000_000_000_000_000),
            }
        )

    async def _assets(self, request: web.Request) -> web.Response:
        status, klass = request.query.get("status"), request.query.get("asset_class")
        rows = [
            a
            for a in self.assets.values()
            if (status is None or a["status"] == status) and (klass is None or a["class"] == klass)
        ]
        return web.json_response(rows)

    async def _positions(self, request: web.Request) -> web.Response:
        rows = []
        for symbol, (qty, avg) in self.book.positions.items():
            px = self.book.prices[symbol]
            rows.append(
                {
                    "asset_id": self.book.asset_id(symbol),
                    "symbol": symbol,
                    "exchange": "NASDAQ",
                    "asset_class": "us_equity",
                    "avg_entry_price": str(avg),
                    "qty": str(qty),
                    "qty_available": str(qty),
                    "side": "long" if qty > 0 else "short",
                    "market_value": str(qty * px),
                    "cost_basis": str(qty * avg),
                    "unrealized_pl": str(qty * (px - avg)),
                    "current_price": str(px),
                }
            )
        return web.json_response(rows)

    async def _activities(self, request: web.Request) -> web.Response:
        q = request.query
        rows = list(self.book.activities)
        if q.get("direction", "desc") == "desc":
            rows.reverse()
        if after := q.get("after"):
            rows = [a for a in rows if _when(a["transaction_time"]) > _when(after)]
        if token := q.get("page_token"):
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(token) + 1 :] if token in ids else []
        size = min(100, int(q.get("page_size", "100")))
        return web.json_response(rows[:size])

    async def _submit(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            raise FakeReject(400, 40010000, "request body format is invalid") from None
        return web.json_response(self.book.submit(body).json(self.book))

    async def _orders(self, request: web.Request) -> web.Response:
        status = request.query.get("status", "open")
        limit = min(500, int(request.query.get("limit", "50")))
        want = {"open": lambda s: s in ("new", "accepted", "partially_filled", "held"), "all": lambda s: True}
        keep = want.get(status, lambda s: s not in ("new", "accepted", "partially_filled", "held"))
        rows = [o for o in self.book.orders.values() if keep(o.status)]
        if request.query.get("direction", "desc") == "desc":
            rows.reverse()
        return web.json_response([o.json(self.book) for o in rows[:limit]])

    async def _by_client(self, request: web.Request) -> web.Response:
        cid = request.query.get("client_order_id", "")
        if cid not in self.book.by_client:
            raise FakeReject(404, 40410000, f"order not found for {cid}")
        return web.json_response(self.book.find(cid).json(self.book))

    async def _order(self, request: web.Request) -> web.Response:
        order = self.book.orders.get(request.match_info["id"])
        if order is None:
            raise FakeReject(404, 40410000, "order not found")
        return web.json_response(order.json(self.book))

    async def _cancel(self, request: web.Request) -> web.Response:
        if request.match_info["id"] not in self.book.orders:
            raise FakeReject(404, 40410000, "order not found")
        self.book.cancel(request.match_info["id"])
        return web.Response(status=204)

    async def _replace(self, request: web.Request) -> web.Response:
        if request.match_info["id"] not in self.book.orders:
            raise FakeReject(404, 40410000, "order not found")
        new = self.book.replace(request.match_info["id"], await request.json())
        return web.json_response(new.json(self.book))

    # ---- market data -------------------------------------------------------------------------------------------
    async def _bars(self, request: web.Request) -> web.Response:
        q, symbol = request.query, request.match_info["symbol"]
        tf = q.get("timeframe", "")
        if not any(tf.endswith(u) and tf[: -len(u)].isdigit() for u in TIMEFRAMES):
            raise FakeReject(422, 42210000, f"invalid timeframe {tf!r}")
        if q.get("feed", "sip") not in ("iex", "sip", "otc", "delayed_sip"):
            raise FakeReject(422, 42210000, "invalid feed")
        start_t, end_t = (
            _when(q.get("start", "1970-01-01T00:00:00Z")),
            _when(q.get("end", "2999-01-01T00:00:00Z")),
        )
        rows = [b for b in self.bars.get((symbol, tf), []) if start_t <= _when(b["t"]) <= end_t]
        start = int(base64.b64decode(q["page_token"])) if q.get("page_token") else 0
        size = min(int(q.get("limit", "1000")), self.bars_page_size)
        page, more = rows[start : start + size], start + size < len(rows)
        token = base64.b64encode(str(start + size).encode()).decode() if more else None
        return web.json_response({"bars": page or None, "symbol": symbol, "next_page_token": token})
