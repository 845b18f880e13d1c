"""`CcxtBroker`: the `Broker` protocol for any exchange ccxt supports, over ccxt.async_support (REST).

Orders carry our client order id in ccxt's unified `clientOrderId` param. A lookup by client id uses
`fetch_order(params={"clientOrderId": ...})` where the exchange supports it (Binance: origClientOrderId);
elsewhere it scans the exchange's recent orders (`fetch_orders`, or open + closed + canceled), so an order
older than the exchange's recent page is not found there. A replacement is a new venue order whose client id
is ours plus ".r<n>": Binance accepts a repeated newClientOrderId only once the earlier order filled (so the
canceled original's id cannot be sent again) and other exchanges keep ids unique for longer; the suffix keeps
every venue order addressable, so `order(id)` follows the chain id, id.r1, id.r2, ... and reports it as one
order. Account and positions: see `holdings`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import ccxt

from traderbot.brokers.base import (
    BrokerAccount,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    MalformedMessage,
    PriceTick,
)
from traderbot.brokers.ccxt import holdings, polling
from traderbot.brokers.ccxt.config import CcxtConfig
from traderbot.brokers.ccxt.errors import translate
from traderbot.brokers.ccxt.lookup import OrderTracker
from traderbot.brokers.ccxt.mapping import (
    combine_chain,
    dec,
    default_instrument_id,
    ms_to_ns,
    to_bar,
    to_broker_fill,
    to_broker_order,
    to_instrument,
)
from traderbot.brokers.ccxt.orders import build_args
from traderbot.brokers.ccxt.session import forget_secrets, make_exchange
from traderbot.model.data import Bar
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order
from traderbot.model.timeframe import Timeframe

log = logging.getLogger("traderbot.brokers.ccxt")
T = TypeVar("T")


class CcxtBroker:
    """One exchange account through ccxt; see the module docstring for lookups, replacements and positions."""

    def __init__(self, config: CcxtConfig) -> None:
        self.config = config
        self.name = f"ccxt:{config.exchange_id}"
        self._ex: Any = None
        self._symbols: dict[str, str] = {}  # our instrument id -> ccxt symbol
        self._ids: dict[str, str] = {}  # ccxt symbol -> our instrument id
        self.tracker = OrderTracker(self)

    def __repr__(self) -> str:
        return f"CcxtBroker(exchange={self.config.exchange_id!r}, sandbox={self.config.sandbox})"

    # ---- plumbing ---------------------------------------------------------------------------------------------
    @property
    def exchange(self) -> Any:
        if self._ex is None:
            raise BrokerUnavailable(f"{self.name} is not connected: call connect() first.")
        return self._ex

    async def call(self, coro: Awaitable[T], what: str, *, placing: bool = False) -> T:
        """Await one ccxt call; its exception becomes a BrokerError (logged once, without credentials)."""
        try:
            return await coro
        except Exception as exc:
            err = translate(exc, self._ex, what, placing=placing)
            log.warning("%s: %s [%s]", self.name, err, err.code)
            raise err from exc

    async def call_or_none(self, coro: Awaitable[T], what: str) -> T | None:
        """Like call(), but an order the exchange does not know (ccxt OrderNotFound) gives None."""
        try:
            return await coro
        except ccxt.OrderNotFound:
            return None
        except Exception as exc:
            err = translate(exc, self._ex, what)
            log.warning("%s: %s [%s]", self.name, err, err.code)
            raise err from exc

    def symbol(self, instrument_id: str) -> str:
        """The ccxt symbol of our instrument id (BrokerRejected naming the fix when there is none)."""
        self.exchange  # noqa: B018  (raises when not connected)
        key = instrument_id.strip().upper().replace("/", "").replace("_", "")
        if key in self._symbols:
            return self._symbols[key]
        raise BrokerRejected(
            f"{self.name} has no market for instrument {instrument_id!r}: add it to CcxtConfig.symbols "
            '(e.g. {"BTCUSDT": "BTC/USDT"}).',
            code="UNKNOWN_INSTRUMENT",
        )

    def instrument_id(self, symbol: str) -> str:
        return self._ids.get(symbol) or symbol

    def watched(self) -> list[str]:
        """The markets polled for orders, fills and positions: the configured ones and those traded here."""
        return sorted(set(self.config.symbols.values()) | self.tracker.traded)

    # ---- connection -------------------------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._ex is None:
            self._ex = make_exchange(self.config)
        ex = self._ex
        await self.call(ex.load_markets(), "loading markets")
        for market in ex.markets.values():
            self._ids.setdefault(market["symbol"], default_instrument_id(market))
        for our_id, symbol in self.config.symbols.items():
            if symbol not in ex.markets:
                raise BrokerRejected(
                    f"{self.name} has no market {symbol!r} (configured for {our_id}).", code="BAD_SYMBOL"
                )
            self._ids[symbol] = our_id.upper()
        self._symbols = {iid: sym for sym, iid in self._ids.items()}
        for our_id, symbol in self.config.symbols.items():
            self._symbols[our_id.upper()] = symbol
        if self.config.api_key is not None:
            await self.call(ex.fetch_balance(), "checking the credentials")
        log.info("%s connected (sandbox=%s, %d markets)", self.name, self.config.sandbox, len(ex.markets))

    async def close(self) -> None:
        if self._ex is not None:
            await self._ex.close()
            self._ex = None
            forget_secrets(self.config)

    # ---- account and market data ------------------------------------------------------------------------------
    async def account(self) -> BrokerAccount:
        return await holdings.account(self)

    async def balance(self) -> dict[str, Any]:
        """ccxt's balance structure, refused when the exchange's answer was not a JSON document."""
        bal = await self.call(self.exchange.fetch_balance(), "fetching the balance")
        if not isinstance(bal, dict) or not isinstance(bal.get("info"), dict | list):
            raise MalformedMessage(f"{self.name} sent an unreadable balance.")
        return bal

    async def instruments(self) -> list[Instrument]:
        ex = self.exchange
        symbols = list(self.config.symbols.values()) or [
            s for s, m in ex.markets.items() if m.get("active") is not False
        ]
        found = (to_instrument(ex.markets[s], self.instrument_id(s), ex.precisionMode) for s in symbols)
        return [i for i in found if i is not None]

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Complete bars in [start, end): pages of the exchange's maximum size, the forming candle dropped."""
        ex, symbol = self.exchange, self.symbol(instrument_id)
        tf = Timeframe.parse(timeframe)
        if tf.name not in (ex.timeframes or {}):
            raise BrokerRejected(
                f"{self.name} has no {tf.name} candles; it offers {', '.join(ex.timeframes or {})}.",
                code="BAD_TIMEFRAME",
            )
        step_ms, end_ms = tf.ns // 1_000_000, end_ns // 1_000_000
        limit = self.config.ohlcv_limit or self.tracker.feature(symbol, "fetchOHLCV", "limit") or 500
        since, bars = -(-start_ns // 1_000_000), {}
        while since < end_ms:
            page = await self.call(
                ex.fetch_ohlcv(symbol, tf.name, since, limit, {"until": end_ms - 1}),
                f"fetching {symbol} candles",
            )
            now_ms = time.time_ns() // 1_000_000
            fresh = [r for r in page if since <= int(r[0]) < end_ms and int(r[0]) not in bars]
            complete = [r for r in fresh if int(r[0]) + step_ms <= now_ms]
            bars.update({int(r[0]): to_bar(r, instrument_id, tf.name, tf.ns) for r in complete})
            if not fresh or len(complete) < len(fresh):
                break  # nothing new, or the page reached the still-forming candle
            since = max(int(r[0]) for r in fresh) + step_ms
        return [bars[t] for t in sorted(bars)]

    async def quotes(self, symbols: Sequence[str]) -> dict[str, tuple[Decimal, Decimal, int]]:
        """symbol -> (bid, ask, exchange ts in ns or 0), from the cheapest call the exchange has."""
        ex = self.exchange
        if ex.has.get("fetchBidsAsks"):
            tickers = await self.call(ex.fetch_bids_asks(list(symbols)), "fetching bids and asks")
        elif ex.has.get("fetchTickers"):
            tickers = await self.call(ex.fetch_tickers(list(symbols)), "fetching tickers")
        else:
            tickers = {s: await self.call(ex.fetch_ticker(s), f"fetching the {s} ticker") for s in symbols}
        if not isinstance(tickers, dict):
            raise MalformedMessage(f"{self.name} sent unreadable tickers.")
        out = {}
        for s in symbols:
            t = tickers.get(s) or {}
            bid, ask = dec(t.get("bid")), dec(t.get("ask"))
            if bid is not None and ask is not None:
                out[s] = (bid, ask, ms_to_ns(t.get("timestamp")))
        return out

    def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:
        return polling.poll_prices(self, [self.symbol(i) for i in instrument_ids])

    # ---- orders -----------------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> BrokerOrder:
        """Send once (never retried here). Precision and minimums are checked before any request."""
        ex, symbol, cid = self.exchange, self.symbol(order.instrument_id), order.client_order_id
        quantity = await holdings.order_quantity(self, order, symbol)
        args = build_args(ex, order, symbol, client_id=cid, quantity=quantity)
        self.tracker.remember(cid, symbol)
        res = await self.call(
            ex.create_order(args.symbol, args.type, args.side, args.amount, args.price, args.params),
            f"the submit of {cid} on {symbol}",
            placing=True,
        )
        if not isinstance(res, dict) or not res.get("id"):
            raise BrokerUnavailable(
                f"{self.name} answered the submit of {cid} without an order id; the outcome is unknown."
            )
        ack = to_broker_order(self.tracker.with_request(res, args), order.instrument_id, cid)
        self.tracker.placed(cid, ack.venue_order_id, symbol, ack.is_open)
        return ack

    async def cancel(self, order: Order) -> None:
        """Cancel the working venue order behind our id (its latest replacement, looked up when not known)."""
        symbol, cid = self.symbol(order.instrument_id), order.client_order_id
        known = self.tracker.live_venue_id(cid)
        if known or order.venue_order_id:
            try:
                await self.tracker.cancel_venue(known or str(order.venue_order_id), symbol, cid)
                return
            except BrokerRejected as err:
                if known or err.code != "ORDER_NOT_OPEN":
                    raise  # else: the id may be a replaced member (after a restart); look the chain up
        chain = await self.tracker.chain(cid, symbol)
        if not chain:
            raise BrokerRejected(f"{self.name} does not know order {cid}.", code="ORDER_NOT_FOUND")
        if str(chain[-1]["id"]) == order.venue_order_id:
            raise BrokerRejected(
                f"{self.name} could not cancel {cid}: it is no longer open.", code="ORDER_NOT_OPEN"
            )
        await self.tracker.cancel_venue(str(chain[-1]["id"]), symbol, cid)

    async def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> BrokerOrder:
        """New total quantity / prices for a working order; see OrderTracker.replace for the two ways it is done."""
        return await self.tracker.replace(order, quantity=quantity, price=price, trigger_price=trigger_price)

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        known = self.tracker.symbol_of(client_order_id)
        symbols = [known] if known else self.watched()
        for symbol in symbols:
            chain = await self.tracker.chain(client_order_id, symbol)
            if chain:
                self.tracker.remember(client_order_id, symbol)
                iid = self.instrument_id(symbol)
                return combine_chain([to_broker_order(o, iid, client_order_id) for o in chain])
        return None

    async def open_orders(self) -> list[BrokerOrder]:
        out = []
        for symbol in self.watched():
            rows = await self.call(self.exchange.fetch_open_orders(symbol), f"fetching open {symbol} orders")
            out += [to_broker_order(o, self.instrument_id(symbol)) for o in rows]
        return out

    # ---- fills and positions ----------------------------------------------------------------------------------
    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        """Executions at or after since_ns; since_ns=0 gives the exchange's most recent page per market."""
        out: list[BrokerFill] = []
        for symbol in self.watched():
            out += await self.symbol_fills(symbol, since_ns // 1_000_000 if since_ns else None)
        return sorted(out, key=lambda f: (f.ts, f.trade_id))

    async def symbol_fills(self, symbol: str, since_ms: int | None) -> list[BrokerFill]:
        iid = self.instrument_id(symbol)
        trades = await self.tracker.trades(symbol, since_ms)
        out = []
        for t in trades:
            cid = await self.tracker.client_id_for(str(t.get("order") or ""), symbol)
            out.append(to_broker_fill(t, iid, cid))
        return out

    async def positions(self) -> list[BrokerPosition]:
        """Derivatives from fetch_positions; spot: watched base balances at the average cost of their fills."""
        return await holdings.positions(self)

    def transactions(self) -> AsyncIterator[BrokerEvent]:
        """Polled order events (REST has no push): see polling.poll_transactions."""
        return polling.poll_transactions(self)
