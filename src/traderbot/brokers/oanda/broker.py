"""`OandaBroker`: the `Broker` protocol over OANDA v20 REST and streams, plus trades and position closes."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from urllib.parse import quote

from traderbot.brokers.base import (
    BrokerAccount,
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    PriceTick,
)
from traderbot.brokers.oanda import history, positions
from traderbot.brokers.oanda.client import JSON, OandaClient, reason_code
from traderbot.brokers.oanda.config import OandaConfig
from traderbot.brokers.oanda.events import OrderIndex, ack, fills_of, to_fill
from traderbot.brokers.oanda.feeds import TransactionFeed, price_ticks
from traderbot.brokers.oanda.mapping import (
    DEPENDENT_ORDER_TYPES,
    OandaInstrumentSpec,
    OandaTrade,
    instrument_spec,
    to_account,
    to_instrument,
    to_order,
)
from traderbot.brokers.oanda.orders import order_request
from traderbot.brokers.oanda.streams import StreamHost
from traderbot.brokers.oanda.wire import SymbolMap
from traderbot.model.data import Bar
from traderbot.model.instrument import Instrument
from traderbot.model.order import Order

log = logging.getLogger("traderbot.brokers.oanda")
NOT_FOUND = frozenset({"ORDER_DOESNT_EXIST", "NO_SUCH_ORDER"})


class OandaBroker:
    """One OANDA v20 account. Use `OandaBroker(OandaConfig.from_env())`, then `await connect()`."""

    name = "oanda"

    def __init__(self, config: OandaConfig) -> None:
        self.config = config
        self.symbols = SymbolMap(config.symbol_map)
        self._client: OandaClient | None = None
        self._host: StreamHost | None = None
        self._specs: dict[str, OandaInstrumentSpec] = {}  # by OANDA name
        self._index = OrderIndex()
        self._currency = ""

    def __repr__(self) -> str:
        return f"OandaBroker({self.config.environment}, account={self.config.account_id})"

    # ---- sessions -------------------------------------------------------------------------------------------
    @property
    def client(self) -> OandaClient:
        if self._client is None:
            self._client = OandaClient(self.config)
        return self._client

    @property
    def host(self) -> StreamHost:
        if self._host is None:
            self._host = StreamHost(self.config)
        return self._host

    @property
    def _acct(self) -> str:
        return self.client.account_path

    async def connect(self) -> None:
        """Check the token and account (BrokerAuthError if refused) and load the instruments' rules."""
        await self.account()
        await self.instruments()

    async def close(self) -> None:
        client, host, self._client, self._host = self._client, self._host, None, None
        if client is not None:
            await client.close()
        if host is not None:
            await host.close()

    # ---- reference data -----------------------------------------------------------------------------------
    async def account(self) -> BrokerAccount:
        body = await self.client.get(f"{self._acct}/summary")
        out = to_account(body.get("account") or {}, time.time_ns())
        self._currency = out.currency
        return out

    async def instruments(self) -> list[Instrument]:
        return [inst for inst, _ in await self._load_instruments()]

    async def _load_instruments(
        self, names: Sequence[str] = ()
    ) -> list[tuple[Instrument, OandaInstrumentSpec]]:
        params = {"instruments": ",".join(names)} if names else None
        body = await self.client.get(f"{self._acct}/instruments", params)
        out = []
        for raw in body.get("instruments") or []:
            spec = instrument_spec(raw)
            self._specs[spec.name] = spec
            out.append((to_instrument(spec, self.symbols.learn(spec.name), raw.get("tags")), spec))
        return out

    async def spec(self, instrument_id: str) -> OandaInstrumentSpec:
        """OANDA's trading rules for our instrument id (cached after `connect`)."""
        name = self._name(instrument_id)
        if name not in self._specs:
            try:
                await self._load_instruments([name])
            except BrokerRejected as exc:  # OANDA answers 400 for a name it does not know
                log.info("OANDA instruments lookup of %s refused: %s", name, exc)
        if name not in self._specs:
            raise BrokerRejected(
                f"OANDA account {self.config.account_id} cannot trade {instrument_id} ({name}); "
                "check the instrument or add it to the OANDA symbol map.",
                code="UNKNOWN_INSTRUMENT",
            )
        return self._specs[name]

    def _name(self, instrument_id: str) -> str:
        try:
            return self.symbols.oanda(instrument_id)
        except ValueError as exc:
            raise BrokerRejected(str(exc), code="UNKNOWN_INSTRUMENT") from exc

    async def _account_currency(self) -> str:
        if not self._currency:
            await self.account()
        return self._currency

    # ---- market data --------------------------------------------------------------------------------------
    async def candles(self, instrument_id: str, timeframe: str, start_ns: int, end_ns: int) -> list[Bar]:
        name = self._name(instrument_id)
        try:
            return await history.candles(
                self.client, self.config, name, instrument_id, timeframe, start_ns, end_ns
            )
        except ValueError as exc:
            raise BrokerRejected(str(exc), code="INVALID_TIMEFRAME") from exc

    async def prices(self, instrument_ids: Sequence[str]) -> AsyncIterator[PriceTick]:
        names = [self._name(i) for i in instrument_ids]
        async for tick in price_ticks(self.host, self._acct, names, self.symbols):
            yield tick

    # ---- orders ---------------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> BrokerOrder:
        body = {"order": order_request(order, await self.spec(order.instrument_id))}
        log.info(
            "OANDA submit %s: %s %s %s",
            order.client_order_id,
            body["order"]["type"],
            body["order"]["units"],
            body["order"]["instrument"],
        )
        reply = await self.client.request("POST", f"{self._acct}/orders", body=body, accept=(400, 404))
        self.client.check(reply, f"order {order.client_order_id}")
        b = reply.body
        out = ack(
            b.get("orderCreateTransaction"),
            b.get("orderFillTransaction"),
            b.get("orderCancelTransaction"),
            self.symbols,
        )
        self._index.remember(out.venue_order_id, order.client_order_id, order.instrument_id)
        return out

    async def cancel(self, order: Order) -> None:
        reply = await self.client.request(
            "PUT", f"{self._acct}/orders/{self._spec_of(order)}/cancel", accept=(404,)
        )
        self.client.check(reply, f"cancel of {order.client_order_id}")

    async def replace(
        self,
        order: Order,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> BrokerOrder:
        """Cancel-replace (OANDA's only amend): the new order keeps our client id and gets a new venue id.

        The replacement is for what is still open: `quantity` (or the order's) minus what has filled.
        """
        remaining = (order.quantity if quantity is None else quantity) - order.filled_qty
        spec = await self.spec(order.instrument_id)
        new = order_request(order, spec, quantity=remaining, price=price, trigger_price=trigger_price)
        reply = await self.client.request(
            "PUT", f"{self._acct}/orders/{self._spec_of(order)}", body={"order": new}, accept=(400, 404)
        )
        self.client.check(reply, f"replace of {order.client_order_id}")
        b = reply.body
        out = ack(
            b.get("orderCreateTransaction"),
            b.get("orderFillTransaction"),
            b.get("replacingOrderCancelTransaction"),
            self.symbols,
        )
        self._index.remember(out.venue_order_id, order.client_order_id, order.instrument_id)
        return out

    async def order(self, client_order_id: str) -> BrokerOrder | None:
        """The order by `@<client id>`; None only when OANDA says it does not exist.

        Filled quantity and average price come from the order's ORDER_FILL transactions (OANDA's Order has
        neither), read with one idrange request from the order's id to its filling/cancelling transaction.
        """
        path = f"{self._acct}/orders/@{quote(client_order_id, safe='')}"
        reply = await self.client.request("GET", path, accept=(404,))
        if reply.status == 404 and reason_code(reply.body) in NOT_FOUND:
            return None
        raw = self.client.check(reply, f"lookup of order {client_order_id}").body.get("order") or {}
        end = (
            raw.get("fillingTransactionID")
            or raw.get("cancellingTransactionID")
            or self.client.last_transaction_id
        )
        txs = await history.id_range(self.client, int(raw.get("id", 0)), int(end), "ORDER_FILL,ORDER_CANCEL")
        qty, avg, reason = fills_of(txs, str(raw.get("id")))
        trades = await self._trades_of([raw])
        out = to_order(
            raw,
            self.symbols,
            filled=(qty, avg),
            reason=reason if raw.get("state") == "CANCELLED" else "",
            trade=trades.get(str(raw.get("tradeID"))),
        )
        self._index.remember(out.venue_order_id, out.client_order_id, out.instrument_id)
        return out

    async def open_orders(self) -> list[BrokerOrder]:
        """Pending orders, with what has filled of each; OANDA's take profit / stop loss orders have no
        client id of ours and take their size and instrument from the trade they close."""
        body = await self.client.get(f"{self._acct}/pendingOrders")
        raws = [r for r in body.get("orders") or [] if isinstance(r, dict)]
        if not raws:
            return []
        first = min(int(r.get("id", 0)) for r in raws)
        txs = await history.id_range(self.client, first, self.client.last_transaction_id, "ORDER_FILL")
        trades = await self._trades_of(raws)
        return [
            to_order(
                raw,
                self.symbols,
                filled=fills_of(txs, str(raw.get("id")))[:2],
                trade=trades.get(str(raw.get("tradeID"))),
            )
            for raw in raws
        ]

    async def _trades_of(self, raws: list[JSON]) -> dict[str, OandaTrade]:
        if not any(r.get("type") in DEPENDENT_ORDER_TYPES for r in raws):
            return {}
        return {t.trade_id: t for t in await self.open_trades()}

    def _spec_of(self, order: Order) -> str:
        if order.client_order_id:
            return f"@{quote(order.client_order_id, safe='')}"
        if order.venue_order_id:
            return order.venue_order_id
        raise BrokerRejected(f"order {order!r} has neither a client nor a venue id.", code="UNKNOWN_ORDER")

    async def _resolve(self, venue_order_id: str) -> None:
        """Learn the client id and instrument of an order seen only by its OANDA id (for cancel events)."""
        try:
            body = await self.client.get(f"{self._acct}/orders/{venue_order_id}")
            raw = body.get("order") or {}
            ext = raw.get("clientExtensions") or {}
            self._index.remember(
                venue_order_id, str(ext.get("id", "")), self.symbols.learn(str(raw["instrument"]))
            )
        except (BrokerError, KeyError) as exc:
            log.warning("OANDA order %s could not be looked up (%s)", venue_order_id, exc)

    # ---- positions, trades, fills, events ---------------------------------------------------------------------
    async def positions(self) -> list[BrokerPosition]:
        return await positions.open_positions(self.client, self.symbols)

    async def open_trades(self) -> list[OandaTrade]:
        return await positions.open_trades(self.client, self.symbols)

    async def close_trade(self, trade_id: str, units: Decimal | None = None) -> BrokerOrder:
        """Close all (or `units`) of one open trade with a market order; returns that order's outcome."""
        return await positions.close_trade(self.client, self.symbols, trade_id, units)

    async def close_position(self, instrument_id: str) -> list[BrokerOrder]:
        """Close the whole position in one instrument with market orders; [] when flat."""
        return await positions.close_position(self.client, self.symbols, self._name(instrument_id))

    async def fills(self, since_ns: int = 0) -> list[BrokerFill]:
        """ORDER_FILL transactions at or after `since_ns`, oldest first."""
        currency = await self._account_currency()
        txs = await history.transactions_since(self.client, since_ns, "ORDER_FILL")
        out = [
            to_fill(tx, self.symbols, currency, self._index) for tx in txs if tx.get("type") == "ORDER_FILL"
        ]
        return sorted((f for f in out if f.ts >= since_ns), key=lambda f: (f.ts, int(f.trade_id)))

    async def transactions(self) -> AsyncIterator[BrokerEvent]:
        feed = TransactionFeed(
            self.client, self.host, self.symbols, self._index, self._account_currency, self._resolve
        )
        async for ev in feed.events():
            yield ev
