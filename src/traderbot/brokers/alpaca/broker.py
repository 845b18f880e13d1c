"""`AlpacaBroker`: the `Broker` protocol over Alpaca's Trading API v2, Market Data v2 and its websockets.

REST goes through alpaca-py's `TradingClient` / `StockHistoricalDataClient` (see transport.py for what we
configure on them), called with `asyncio.to_thread` so the adapter stays async. Orders carry our client
order id; a lookup by it follows Alpaca's replacement chain, so one id names an order across replaces.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import quote

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from traderbot.brokers.alpaca import mapping, market
from traderbot.brokers.alpaca.config import AlpacaConfig
from traderbot.brokers.alpaca.quotes import quotes
from traderbot.brokers.alpaca.stream import trade_updates
from traderbot.brokers.alpaca.transport import RestTransport, build_clients, close_clients, not_found
from traderbot.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    MalformedMessage,
    PriceTick,
)
from traderbot.model.data import Bar
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

log = logging.getLogger("traderbot.brokers.alpaca")
_PAGE = 100  # account activities page size (Alpaca's maximum)
_CHAIN = 50  # replacements followed at most


class AlpacaBroker:
    """One Alpaca account (paper unless `config.paper` is False)."""

    name = "alpaca"

    def __init__(self, config: AlpacaConfig) -> None:
        self.config = config
        self._trading: TradingClient | None = None
        self._data: StockHistoricalDataClient | None = None
        self._rest = RestTransport(config, "trading")
        self._market = RestTransport(config, "market data")
        self._client_ids: dict[str, str] = {}  # Alpaca order id -> our client order id
        self._latest: dict[str, str] = {}  # our client order id -> id of its live (last replacement) order

    @classmethod
    def from_env(cls, **overrides: Any) -> AlpacaBroker:
        """Credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY; MissingCredential names a missing one."""
        return cls(AlpacaConfig.from_env(**overrides))

    def __repr__(self) -> str:
        return f"AlpacaBroker(paper={self.config.paper}, trading_url={self.config.trading_base!r})"

    # ---- session ------------------------------------------------------------------------------------------
    def _client(self) -> TradingClient:
        if self._trading is None:
            self._trading, self._data = build_clients(self.config)
        return self._trading

    def _data_client(self) -> StockHistoricalDataClient:
        self._client()
        assert self._data is not None
        return self._data

    async def connect(self) -> None:
        account = await self.account()  # proves the keys (BrokerAuthError otherwise)
        mode = "paper" if self.config.paper else "LIVE"
        log.info("alpaca connected (%s), account %s, %s", mode, account.account_id, account.currency)

    async def close(self) -> None:
        if self._trading is not None and self._data is not None:
            close_clients(self._trading, self._data)
        self._trading = self._data = None

    async def _get(self, what: str, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self._rest.call(what, self._client().get, path, params, idempotent=True)

    # ---- account and reference data ---------------------------------------------------------------------------
    async def account(self) -> BrokerAccount:
        return mapping.account(_obj(await self._get("account", "/account"), "account"), time.time_ns())

    async def instruments(self) -> list[Instrument]:
        rows = await self._get("asset list", "/assets", {"status": "active", "asset_class": "us_equity"})
        return market.instruments(_list(rows, "assets"), self.config.fractional)

    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        """Complete bars with open time in [start_ns, end_ns), following next_page_token to the end."""
        get = self._data_client().get

        async def page(params: dict[str, Any]) -> dict[str, Any]:
            what, path = f"bars of {instrument_id}", f"/stocks/{quote(instrument_id, safe='')}/bars"
            return _obj(await self._market.call(what, get, path, params, idempotent=True), what)

        return await market.bars(page, instrument_id, timeframe, start_ns, end_ns, self.config.feed)

    def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:
        return quotes(self.config, list(instrument_ids))

    # ---- orders ---------------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> BrokerOrder:
        """POST /v2/orders once (never retried but for 429); a duplicate client id returns the existing order."""
        cid = order.client_order_id
        notional = None
        if order.equity_fraction is not None:  # Alpaca sizes a notional order at the fill price
            equity = (await self.account()).equity
            notional = (equity * order.equity_fraction).quantize(Decimal("0.01"), ROUND_DOWN)
        payload = mapping.order_payload(order, notional)
        try:
            raw = await self._rest.call(
                f"submit of {cid}", self._client().post, "/orders", payload, idempotent=False
            )
        except BrokerRejected as exc:
            if "client_order_id must be unique" not in str(exc):
                raise
            existing = await self.order(cid)  # sent before (a lost answer): that order is the answer
            if existing is None:
                raise
            log.warning("alpaca: %s was already at Alpaca (%s); not sent again", cid, existing.venue_order_id)
            return existing
        ack = mapping.broker_order(_obj(raw, f"submit of {cid}"), cid)
        self._remember(ack.venue_order_id, cid)
        log.info("alpaca: submitted %s as %s (%s)", cid, ack.venue_order_id, ack.status.value)
        return ack

    async def cancel(self, order: Order) -> None:
        cid = order.client_order_id
        venue_id = self._latest.get(cid) or order.venue_order_id
        if not venue_id:
            found = await self.order(cid)
            if found is None:
                raise BrokerRejected(f"Alpaca has no order {cid} to cancel.", code="NOT_FOUND")
            venue_id = found.venue_order_id
        await self._rest.call(
            f"cancel of {cid}", self._client().delete, f"/orders/{venue_id}", idempotent=False
        )
        log.info("alpaca: cancel of %s (%s) requested", cid, venue_id)

    async def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> BrokerOrder:
        """PATCH /v2/orders/{id} on the order's live version; the new order gets the id `<ours>~r<n>`."""
        cid = order.client_order_id
        body = {
            k: mapping.text(v)
            for k, v in (("qty", quantity), ("limit_price", price), ("stop_price", trigger_price))
            if v is not None
        }
        if not body:
            raise BrokerRejected(f"replace of {cid} changes nothing.", code="UNSUPPORTED")
        current = await self._current(cid)
        if current is None:
            raise BrokerRejected(f"Alpaca has no order {cid} to replace.", code="NOT_FOUND")
        body["client_order_id"] = mapping.next_replacement_id(str(current["client_order_id"]))
        path = f"/orders/{current['id']}"
        raw = await self._rest.call(f"replace of {cid}", self._client().patch, path, body, idempotent=False)
        ack = mapping.broker_order(_obj(raw, f"replace of {cid}"), cid)
        self._remember(ack.venue_order_id, cid)
        return ack

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        raw = await self._current(client_order_id)
        return None if raw is None else mapping.broker_order(raw, client_order_id)

    async def _current(self, client_order_id: str) -> dict[str, Any] | None:
        """The live version of our order: GET by client order id, then along `replaced_by`; None on 404."""
        what = f"lookup of {client_order_id}"
        try:
            raw = _obj(
                await self._get(what, "/orders:by_client_order_id", {"client_order_id": client_order_id}),
                what,
            )
        except BrokerError as exc:
            if not_found(exc):
                return None
            raise
        for _ in range(_CHAIN):
            if raw.get("status") != "replaced" or not raw.get("replaced_by"):
                break
            raw = _obj(await self._get(what, f"/orders/{raw['replaced_by']}"), what)
        self._remember(str(raw.get("id")), client_order_id)
        return raw

    def _remember(self, venue_id: str, client_order_id: str) -> None:
        self._client_ids[venue_id] = client_order_id
        self._latest[client_order_id] = venue_id

    async def open_orders(self) -> list[BrokerOrder]:
        params = {"status": "open", "limit": 500, "direction": "asc", "nested": "false"}
        return _orders(await self._get("open orders", "/orders", params))

    # ---- positions and fills ------------------------------------------------------------------------------------
    async def positions(self) -> list[BrokerPosition]:
        out = []
        for raw in _list(await self._get("positions", "/positions"), "positions"):
            pos = mapping.position(raw)
            if pos is not None:
                out.append(pos)
        return out

    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        """FILL account activities at or after `since_ns`, oldest first, paged by activity id."""
        params: dict[str, Any] = {"direction": "asc", "page_size": _PAGE}
        if since_ns:
            params["after"] = mapping.iso(since_ns - 1_000)  # `after` is exclusive; µs precision
        out: list[BrokerFill] = []
        while True:
            page = _list(
                await self._get("fill history", "/account/activities/FILL", dict(params)), "activities"
            )
            for raw in page:
                try:
                    cid = await self._client_id(str(raw["order_id"]))
                    f = mapping.fill(raw, cid)
                except (MalformedMessage, KeyError) as exc:
                    log.warning("alpaca: skipping a malformed FILL activity %s: %s", raw.get("id"), exc)
                    continue
                if f.ts >= since_ns:
                    out.append(f)
            if len(page) < _PAGE:
                break
            params["page_token"] = page[-1]["id"]
        out.sort(key=lambda f: f.ts)
        return out

    async def _client_id(self, venue_order_id: str) -> str:
        """Our client order id for an Alpaca order id (activities carry only the latter)."""
        if venue_order_id not in self._client_ids:
            what = f"order {venue_order_id}"
            try:
                raw = _obj(await self._get(what, f"/orders/{venue_order_id}"), what)
            except BrokerError as exc:
                if not not_found(exc):
                    raise
                return ""  # an order Alpaca no longer lists: the fill stays, unattributed
            self._client_ids[venue_order_id] = mapping.base_client_id(str(raw.get("client_order_id") or ""))
        return self._client_ids[venue_order_id]

    def transactions(self) -> AsyncIterator[BrokerEvent]:
        return trade_updates(self.config)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedMessage(f"Alpaca answered {what} with {type(value).__name__}, not a JSON object.")
    return value


def _list(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise MalformedMessage(f"Alpaca answered {what} with {type(value).__name__}, not a JSON list.")
    return [v for v in value if isinstance(v, dict)]


def _orders(value: Any) -> list[BrokerOrder]:
    out = []
    for raw in _list(value, "orders"):
        try:
            out.append(mapping.broker_order(raw))
        except MalformedMessage as exc:
            log.warning("alpaca: skipping a malformed order %s: %s", raw.get("id"), exc)
    return out
