"""A local Binance Spot REST server speaking the documented wire protocol (api/v3), for ccxt's binance class.

State is real: balances (free/locked), orders by id and by client id, trades with ids, a kline series that
reaches the present (its last candle still forming). Signed endpoints check `X-MBX-APIKEY` and the HMAC-SHA256
`signature` over totalParams (query string + body) like Binance. Errors use Binance's JSON `{"code", "msg"}`.

Test controls: `fail_next` (429/418 with Retry-After, 5xx, 400 with a Binance error body), `delay_next` (the
request is processed, then the answer is held back beyond the client's timeout), `fill_partially_next` and
`fill_rest` (partial fills of market orders), `set_quote` (moves the book, fills resting orders and triggers
stops), and `submissions` (how often each newClientOrderId was sent), `requests` (every request seen).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from tests.fakes.binance_fake_book import (
    OPEN,
    BinanceBook,
    BinanceError,
    Json,
    SymbolSpec,
    fmt8,
    kline,
    need,
    now_ms,
    order_json,
    symbol_info,
    trade_json,
)

__all__ = ["BinanceError", "BinanceFake", "SymbolSpec"]
_INTERVAL_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DAY_MS = 86_400_000


class BinanceFake(BinanceBook):
    """Use as `async with BinanceFake() as fake:`; `fake.url` is the base, e.g. http://127.0.0.1:PORT."""

    def __init__(self, *, api_key: str = "fake-api-key", secret: str = "fake-secret") -> None:
        super().__init__()
        self.api_key, self.secret = api_key, secret
        self.requests: list[tuple[str, str]] = []
        self.client_id_queries = 0  # GET /api/v3/order by origClientOrderId
        self._failures: dict[str, deque[tuple[int, Json | str | None, float | None]]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self.url = ""
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ------------------------------------------------------------------------------------------
    async def __aenter__(self) -> BinanceFake:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/api/v3/ping", self._ping)
        r.add_get("/api/v3/time", self._time)
        r.add_get("/api/v3/exchangeInfo", self._exchange_info)
        r.add_get("/api/v3/klines", self._klines)
        r.add_get("/api/v3/ticker/bookTicker", self._book_ticker)
        r.add_get("/api/v3/account", self._account)
        r.add_post("/api/v3/order", self._new_order)
        r.add_get("/api/v3/order", self._query_order)
        r.add_delete("/api/v3/order", self._cancel_order)
        r.add_post("/api/v3/order/cancelReplace", self._cancel_replace)
        r.add_get("/api/v3/openOrders", self._open_orders)
        r.add_get("/api/v3/allOrders", self._all_orders)
        r.add_get("/api/v3/myTrades", self._my_trades)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- controls ---------------------------------------------------------------------------------------------
    def fail_next(
        self,
        route: str,
        status: int,
        *,
        times: int = 1,
        body: Json | str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next `times` requests of `route` ("POST /api/v3/order") with `status` and `body`."""
        for _ in range(times):
            self._failures[route].append((status, body, retry_after))

    def delay_next(self, route: str, seconds: float, *, times: int = 1) -> None:
        """Process the next requests of `route`, then hold the answer back for `seconds`."""
        self._delays[route].extend([seconds] * times)

    # ---- plumbing ---------------------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = f"{request.method} {request.path}"
        self.requests.append((request.method, request.path))
        if self._failures[route]:
            status, body, retry_after = self._failures[route].popleft()
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            if isinstance(body, str):
                return web.Response(status=status, text=body, headers=headers)
            return web.json_response(body or _default_error(status), status=status, headers=headers)
        try:
            response = await handler(request)
        except BinanceError as e:
            response = e.response()
        if self._delays[route]:
            await asyncio.sleep(self._delays[route].popleft())
        response.headers["X-MBX-USED-WEIGHT-1M"] = str(len(self.requests))
        return response

    async def _signed(self, request: web.Request) -> dict[str, str]:
        """Binance SIGNED endpoint security: API key header, HMAC of totalParams, timestamp within recvWindow."""
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, body = request.rel_url.raw_query_string, await request.text()
        params = {**dict(_pairs(body)), **dict(_pairs(query))}
        total = _strip_signature(query) + _strip_signature(body)
        expected = hmac.new(self.secret.encode(), total.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params.get("signature", "").lower()):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        stamp, window, now = (
            int(params.get("timestamp", "0")),
            int(params.get("recvWindow", "5000")),
            now_ms(),
        )
        if not (stamp < now + 1000 and now - stamp <= window):
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    # ---- public endpoints -------------------------------------------------------------------------------------
    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = [symbol_info(name, spec) for name, spec in self.symbols.items()]
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        self.spec(dict(q))
        interval = need(dict(q), "interval")
        step = int(interval[:-1]) * _INTERVAL_MS[interval[-1]] if interval[-1] in _INTERVAL_MS else 0
        limit = int(q.get("limit", "500"))
        if step <= 0 or not 1 <= limit <= 1000:
            raise BinanceError(400, -1130, "Data sent for parameter 'limit' or 'interval' is not valid.")
        forming = now_ms() // step * step
        end = min(int(q["endTime"]), forming) if "endTime" in q else forming
        if "startTime" in q:
            first = -(-int(q["startTime"]) // step) * step
            opens = range(first, min(end, first + (limit - 1) * step) + 1, step)
        else:
            last = end // step * step
            opens = range(last - (limit - 1) * step, last + 1, step)
        return web.json_response([kline(t, step) for t in opens])

    async def _book_ticker(self, request: web.Request) -> web.Response:
        def row(name: str) -> Json:
            spec = self.symbols[name]
            return {"symbol": name, "bidPrice": fmt8(spec.bid), "bidQty": "1.00000000", "askPrice": fmt8(spec.ask),
                    "askQty": "1.00000000"}  # fmt: skip

        if "symbol" in request.query:
            self.spec(dict(request.query))
            return web.json_response(row(request.query["symbol"]))
        wanted = json.loads(request.query["symbols"]) if "symbols" in request.query else list(self.symbols)
        return web.json_response([row(n) for n in wanted if n in self.symbols])

    # ---- signed endpoints -------------------------------------------------------------------------------------
    async def _account(self, request: web.Request) -> web.Response:
        await self._signed(request)
        assets = sorted(set(self.free) | set(self.locked))
        balances = [{"asset": a, "free": fmt8(self.free[a]), "locked": fmt8(self.locked[a])} for a in assets]
        return web.json_response(
            {"makerCommission": 10, "takerCommission": 10, "canTrade": True, "canWithdraw": True, "canDeposit": True,
             "updateTime": now_ms(), "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"]}
        )  # fmt: skip

    async def _new_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        return web.json_response(self.place(params, params.get("newClientOrderId")))

    async def _query_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        self.spec(params)
        self.client_id_queries += "orderId" not in params and "origClientOrderId" in params
        o = self.find(params.get("orderId"), params.get("origClientOrderId"))
        if o is None or o["symbol"] != params["symbol"]:
            raise BinanceError(400, -2013, "Order does not exist.")
        return web.json_response(order_json(o))

    async def _cancel_order(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        return web.json_response(self.cancel(params, params.get("orderId"), params.get("origClientOrderId")))

    async def _cancel_replace(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        try:
            canceled = self.cancel(params, params.get("cancelOrderId"), params.get("cancelOrigClientOrderId"))
        except BinanceError as e:
            data = {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": {"code": e.code, "msg": e.msg}, "newOrderResponse": None}  # fmt: skip
            raise BinanceError(400, -2022, "Order cancel-replace failed.", data) from e
        try:
            placed = self.place(params, params.get("newClientOrderId"))
        except BinanceError as e:
            data = {"cancelResult": "SUCCESS", "newOrderResult": "FAILURE", "cancelResponse": canceled,
                    "newOrderResponse": {"code": e.code, "msg": e.msg}}  # fmt: skip
            raise BinanceError(409, -2021, "Order cancel-replace partially failed.", data) from e
        return web.json_response(
            {
                "cancelResult": "SUCCESS",
                "newOrderResult": "SUCCESS",
                "cancelResponse": canceled,
                "newOrderResponse": placed,
            }
        )

    async def _open_orders(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        symbol = params.get("symbol")
        if symbol is not None:
            self.spec(params)
        rows = [o for o in self.orders.values() if o["status"] in OPEN]
        return web.json_response([order_json(o) for o in rows if symbol in (None, o["symbol"])])

    async def _all_orders(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        self.spec(params)
        rows = [o for o in self.orders.values() if o["symbol"] == params["symbol"]]
        if "orderId" in params:
            rows = [o for o in rows if o["orderId"] >= int(params["orderId"])]
        rows = _time_window(rows, params, "time", max_span=None)
        forward = "orderId" in params or "startTime" in params
        return web.json_response([order_json(o) for o in _limit(rows, params, forward)])

    async def _my_trades(self, request: web.Request) -> web.Response:
        params = await self._signed(request)
        self.spec(params)
        rows = [t for t in self.trades if t["symbol"] == params["symbol"]]
        if "orderId" in params:
            rows = [t for t in rows if t["orderId"] == int(params["orderId"])]
        if "fromId" in params:
            rows = [t for t in rows if t["id"] >= int(params["fromId"])]
        rows = _time_window(rows, params, "time", max_span=_DAY_MS)
        forward = "fromId" in params or "startTime" in params
        return web.json_response([trade_json(t) for t in _limit(rows, params, forward)])


def _default_error(status: int) -> Json:
    if status in (418, 429):
        return {"code": -1003, "msg": "Too many requests; please use the websocket for live updates."}
    if status >= 500:
        return {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}
    return {"code": -1000, "msg": "An unknown error occurred while processing the request."}


# ---- request parsing ----------------------------------------------------------------------------------------
def _pairs(raw: str) -> list[tuple[str, str]]:
    return parse_qsl(raw, keep_blank_values=True)


def _strip_signature(raw: str) -> str:
    return "&".join(p for p in raw.split("&") if p and not p.startswith("signature="))


def _time_window(rows: list[Json], params: dict[str, str], key: str, max_span: int | None) -> list[Json]:
    start, end = params.get("startTime"), params.get("endTime")
    if start is None and end is None:
        return rows
    lo = int(start) if start is not None else int(end or 0) - (max_span or 10**15)
    hi = int(end) if end is not None else lo + (max_span or 10**15)
    if max_span is not None and hi - lo > max_span:
        raise BinanceError(400, -1127, "More than 24 hours between startTime and endTime.")
    return [r for r in rows if lo <= r[key] <= hi]


def _limit(rows: list[Json], params: dict[str, str], forward: bool) -> list[Json]:
    limit = int(params.get("limit", "500"))
    if not 1 <= limit <= 1000:
        raise BinanceError(400, -1130, "Data sent for parameter 'limit' is not valid.")
    return rows[:limit] if forward else rows[-limit:]
