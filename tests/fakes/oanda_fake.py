"""A local OANDA v20 server for contract tests: REST and streams on 127.0.0.1, documented JSON and statuses.

It checks `Authorization: Bearer <token>` (401 otherwise) and the account id in the path (400 when malformed,
403 for another account), answers dates in the format of `Accept-Datetime-Format` (UNIX or RFC3339), keeps
real state (see oanda_fake_book) and streams prices and transactions with heartbeats.

Use it in a background thread (`with OandaFake(...) as fake:`), in the test's event loop
(`await fake.start_async()`), or standalone until killed:

    python -m tests.fakes.oanda_fake --port 8123 --token T --account 101-004-1234567-001 [--heartbeat 5]

which prints `OANDA fake listening on http://127.0.0.1:<port>` once it accepts connections.

Test-only control routes (no auth; JSON bodies):
    POST /_fake/price           {"instrument": "EUR_USD", "bid": "1.1", "ask": "1.1002"}
    POST /_fake/partial         {"fraction": "0.5"}   (null: fill orders completely again)
    POST /_fake/fill_remaining  {"client_order_id": "O-1"}  -> {"orderFillTransaction": ...} or 404
    POST /_fake/fail            {"route": "orders.create", "status": 500, "count": 1, "retry_after": "1",
                                 "error_code": "...", "error_message": "..."}   (before executing)
    POST /_fake/delay           {"route": "orders.create", "seconds": 3, "count": 1}  (after executing)
    POST /_fake/stream          {"kind": "pricing"|"transactions",
                                 "action": "drop"|"reset"|"stall"|"hold"|"release"|"block"|"unblock"|"line",
                                 "line": "..."}
    POST /_fake/halt            {"instrument": "EUR_USD", "halted": true}   (market orders: MARKET_HALTED)
    GET  /_fake/submissions     -> {"<client order id>": <POSTs received with it>, ...}
Stream actions: drop = clean end of the response, reset = abort the TCP connection, stall = go silent (no
heartbeats), hold / release = keep data lines back while heartbeats still flow, then send them late,
block / unblock = answer new connections with 503, line = send a raw (e.g. malformed) line.
The same controls exist as methods (set_price, set_partial_fill, fill_remaining, halt, set_candles, fail_next,
delay_next, stream_control, submission_count), plus route_count / seen / open_streams for assertions.
Route names for fail/delay: summary, instruments, candles, orders.create, orders.list, orders.pending,
orders.get, orders.replace, orders.cancel, trades.open, trades.close, positions.open, positions.get,
positions.close, transactions.pages, transactions.sinceid, transactions.idrange, transactions.get,
transactions.stream, pricing.stream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from aiohttp import web
from tests.fakes import oanda_fake_views as views
from tests.fakes.oanda_fake_book import OandaBook
from tests.fakes.oanda_fake_rules import Reply
from tests.fakes.oanda_fake_streams import StreamHub

T = TypeVar("T")
ACCOUNT_ID = re.compile(r"^\d{3}-\d{3}-\d+-\d{3}$")
_STATUS_TEXT = {
    400: "Invalid request",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class Seen(NamedTuple):
    """One request the fake received (control routes excluded)."""

    method: str
    route: str
    path: str  # with the query string
    at: float  # time.monotonic() on arrival


@dataclass
class _Failure:
    status: int = 500
    retry_after: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    delay: float | None = None  # set: execute, then answer this many seconds late


class OandaFake:
    """The fake server and its programmatic controls (safe to call from the test's thread)."""

    def __init__(
        self,
        *,
        token: str = "fake-token",
        account_id: str = "101-004-1234567-001",
        heartbeat: float = 5.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token, self.account_id, self.heartbeat, self.host, self.port = (
            token,
            account_id,
            heartbeat,
            host,
            port,
        )
        self.book = OandaBook(account_id)
        self.failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self.submissions: Counter[str] = Counter()
        self.requests: list[Seen] = []
        self.streams = StreamHub(self.book, heartbeat)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- lifecycle ------------------------------------------------------------------------------------------
    async def start_async(self) -> OandaFake:
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.app(), shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop_async(self) -> None:
        self.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> OandaFake:
        """Serve from a background thread with its own event loop."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start_async())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="oanda-fake", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the OANDA fake did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> OandaFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop (state is only touched there), from any thread."""
        loop = self._loop
        if loop is None or self._thread is None or threading.current_thread() is self._thread:
            return fn()

        async def wrapped() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapped(), loop).result(10)

    # ---- programmatic controls --------------------------------------------------------------------------------
    def name(self, instrument: str) -> str:
        """OANDA name for "EUR_USD" or our "EURUSD"."""
        if instrument in self.book.instruments:
            return instrument
        return next(n for n in self.book.instruments if n.replace("_", "") == instrument.upper())

    def set_price(self, instrument: str, bid: str | Decimal, ask: str | Decimal) -> None:
        name = self.name(instrument)

        def apply() -> None:
            self.book.prices[name] = (Decimal(str(bid)), Decimal(str(ask)))
            self.streams.on_price(name)
            self.book.on_price(name)

        self._call(apply)

    def set_partial_fill(self, fraction: str | Decimal | None) -> None:
        self._call(
            lambda: setattr(self.book, "partial", None if fraction is None else Decimal(str(fraction)))
        )

    def fill_remaining(self, client_order_id: str) -> dict[str, Any] | None:
        return self._call(lambda: self.book.fill_remaining(client_order_id))

    def halt(self, instrument: str, halted: bool = True) -> None:
        name = self.name(instrument)
        self._call(lambda: self.book.halted.add(name) if halted else self.book.halted.discard(name))

    def set_candles(
        self, instrument: str, granularity: str, rows: list[tuple[int, str, str, str, str, int]]
    ) -> None:
        """Mid candles (open time ns, o, h, l, c, volume), oldest first; the last one is served incomplete."""
        name = self.name(instrument)
        self._call(lambda: self.book.candles.__setitem__((name, granularity), list(rows)))

    def fail_next(
        self,
        route: str,
        status: int,
        count: int = 1,
        *,
        retry_after: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Answer the next `count` requests of `route` with `status`, without executing them."""
        failure = _Failure(status, retry_after, error_code, error_message)
        self._call(lambda: self.failures[route].extend([failure] * count))

    def delay_next(self, route: str, seconds: float, count: int = 1) -> None:
        """Execute the next `count` requests of `route`, then answer `seconds` late."""
        self._call(lambda: self.failures[route].extend([_Failure(delay=seconds)] * count))

    def stream_control(self, kind: str, action: str, line: str = "") -> None:
        """For the open `kind` streams ("pricing" or "transactions"): drop (clean end), reset (abort the
        TCP connection), stall (go silent), hold (keep data lines back, heartbeats still flow) / release
        (send them late), line (send a raw line); block / unblock answer new connections with 503."""
        self._call(lambda: self.streams.control(kind, action, line))

    def submission_count(self, client_order_id: str) -> int:
        return self._call(lambda: self.submissions[client_order_id])

    def route_count(self, route: str) -> int:
        return self._call(lambda: sum(1 for seen in self.requests if seen.route == route))

    def seen(self, route: str) -> list[Seen]:
        return self._call(lambda: [s for s in self.requests if s.route == route])

    def open_streams(self, kind: str) -> int:
        return self._call(lambda: len(self.streams.conns[kind]))

    # ---- HTTP plumbing ----------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        acct = "/v3/accounts/{account}"
        get, put = web.get, web.put
        app.add_routes(
            [
                get(f"{acct}/summary", self._h(lambda r, b: views.summary(self.book)), name="summary"),
                get(
                    f"{acct}/instruments",
                    self._h(lambda r, b: views.instruments(self.book, r.query.get("instruments"))),
                    name="instruments",
                ),
                get(
                    "/v3/instruments/{instrument}/candles",
                    self._h(lambda r, b: views.candles(self.book, r.match_info["instrument"], r.query)),
                    name="candles",
                ),
                web.post(
                    f"{acct}/orders",
                    self._h(lambda r, b: self.book.create_order(b.get("order"))),
                    name="orders.create",
                ),
                get(
                    f"{acct}/orders",
                    self._h(lambda r, b: views.list_orders(self.book, r.query)),
                    name="orders.list",
                ),
                get(
                    f"{acct}/pendingOrders",
                    self._h(lambda r, b: views.list_orders(self.book, {"count": 500})),
                    name="orders.pending",
                ),
                get(
                    f"{acct}/orders/{{spec}}",
                    self._h(lambda r, b: views.get_order(self.book, r.match_info["spec"])),
                    name="orders.get",
                ),
                put(
                    f"{acct}/orders/{{spec}}",
                    self._h(lambda r, b: self.book.replace_order(r.match_info["spec"], b.get("order"))),
                    name="orders.replace",
                ),
                put(
                    f"{acct}/orders/{{spec}}/cancel",
                    self._h(lambda r, b: self.book.cancel_order(r.match_info["spec"])),
                    name="orders.cancel",
                ),
                get(
                    f"{acct}/openTrades",
                    self._h(lambda r, b: views.open_trades(self.book)),
                    name="trades.open",
                ),
                put(
                    f"{acct}/trades/{{spec}}/close",
                    self._h(lambda r, b: self.book.close_trade(r.match_info["spec"], b)),
                    name="trades.close",
                ),
                get(
                    f"{acct}/openPositions",
                    self._h(lambda r, b: views.open_positions(self.book)),
                    name="positions.open",
                ),
                get(
                    f"{acct}/positions/{{instrument}}",
                    self._h(lambda r, b: views.position(self.book, r.match_info["instrument"])),
                    name="positions.get",
                ),
                put(
                    f"{acct}/positions/{{instrument}}/close",
                    self._h(lambda r, b: self.book.close_position(r.match_info["instrument"], b)),
                    name="positions.close",
                ),
                get(
                    f"{acct}/transactions",
                    self._h(lambda r, b: views.pages(self.book, r.query, self._base(r))),
                    name="transactions.pages",
                ),
                get(
                    f"{acct}/transactions/sinceid",
                    self._h(lambda r, b: views.since_id(self.book, r.query)),
                    name="transactions.sinceid",
                ),
                get(
                    f"{acct}/transactions/idrange",
                    self._h(lambda r, b: views.id_range(self.book, r.query)),
                    name="transactions.idrange",
                ),
                get(f"{acct}/transactions/stream", self.streams.transactions, name="transactions.stream"),
                get(
                    f"{acct}/transactions/{{tx}}",
                    self._h(lambda r, b: views.transaction(self.book, r.match_info["tx"])),
                    name="transactions.get",
                ),
                get(f"{acct}/pricing/stream", self.streams.pricing, name="pricing.stream"),
                web.post("/_fake/{action}", self._control),
                get("/_fake/submissions", self._submissions),
            ]
        )
        return app

    def _base(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/v3/accounts/{self.account_id}"

    def _h(self, fn: Callable[[web.Request, dict[str, Any]], Reply]) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            body: Any = {}
            raw = await request.read() if request.method in ("POST", "PUT") else b""
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self._json(request, 400, {"errorMessage": "Invalid JSON request body"})
                if not isinstance(body, dict):
                    return self._json(request, 400, {"errorMessage": "Invalid JSON request body"})
            status, payload = fn(request, body)
            return self._json(request, status, payload)

        return handler

    def _json(
        self, request: web.Request, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        unix = request.headers.get("Accept-Datetime-Format", "RFC3339").upper() == "UNIX"
        return web.json_response(views.render(body, unix), status=status, headers=headers)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/_fake/"):
            return await handler(request)
        route = request.match_info.route.name or ""
        self.requests.append(Seen(request.method, route, request.path_qs, time.monotonic()))
        if route == "orders.create":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.submissions[
                    str(json.loads(await request.read())["order"]["clientExtensions"]["id"])
                ] += 1
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(
                request, 401, {"errorMessage": "Insufficient authorization to perform request."}
            )
        account = request.match_info.get("account")
        if account is not None and account != self.account_id:
            if not ACCOUNT_ID.match(account):
                return self._json(request, 400, {"errorMessage": "Invalid value specified for 'accountID'"})
            return self._json(request, 403, {"errorMessage": "The provided request was forbidden."})
        failure = self.failures[route].popleft() if self.failures.get(route) else None
        if failure is not None and failure.delay is None:
            body: dict[str, Any] = {
                "errorMessage": failure.error_message or _STATUS_TEXT.get(failure.status, "Error")
            }
            if failure.error_code:
                body["errorCode"] = failure.error_code
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else None
            return self._json(request, failure.status, body, headers)
        response = await handler(request)
        if failure is not None and failure.delay is not None:
            await asyncio.sleep(failure.delay)
        return response

    async def _submissions(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.submissions))

    async def _control(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        action = request.match_info["action"]
        if action == "price":
            self.set_price(body["instrument"], body["bid"], body["ask"])
        elif action == "partial":
            self.set_partial_fill(body.get("fraction"))
        elif action == "fill_remaining":
            fill = self.fill_remaining(body["client_order_id"])
            status = 200 if fill else 404
            return web.json_response({"orderFillTransaction": views.render(fill, True)}, status=status)
        elif action == "fail":
            self.fail_next(
                body["route"],
                int(body["status"]),
                int(body.get("count", 1)),
                retry_after=body.get("retry_after"),
                error_code=body.get("error_code"),
                error_message=body.get("error_message"),
            )
        elif action == "delay":
            self.delay_next(body["route"], float(body["seconds"]), int(body.get("count", 1)))
        elif action == "stream":
            self.stream_control(body["kind"], body["action"], body.get("line", ""))
        elif action == "halt":
            self.halt(body["instrument"], bool(body.get("halted", True)))
        else:
            return web.json_response({"errorMessage": f"unknown control {action}"}, status=404)
        return web.json_response({"ok": True})


async def _serve(args: argparse.Namespace) -> None:
    fake = OandaFake(token=args.token, account_id=args.account, heartbeat=args.heartbeat, port=args.port)
    await fake.start_async()
    print(f"OANDA fake listening on {fake.url}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OANDA v20 fake server (test only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="fake-token")
    parser.add_argument("--account", default="101-004-1234567-001")
    parser.add_argument("--heartbeat", type=float, default=5.0, help="seconds between stream heartbeats")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
