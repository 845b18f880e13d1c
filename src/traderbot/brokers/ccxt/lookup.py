"""What the adapter remembers about orders, and how it finds them again on the exchange.

Lookup by client id: `fetch_order(params={"clientOrderId": id})` where the exchange supports it (the Binance
family maps it to origClientOrderId; `CcxtConfig.client_id_lookup` overrides the choice), otherwise a scan of
the exchange's recent orders (`fetch_orders`, or open + closed + canceled). A replaced order is a chain of venue
orders id, id.r1, id.r2, ...: every replaced member ends canceled, so the chain is followed while the last
member found is canceled and its successor exists.

Replacement (`replace`): with `replace_mode="auto"` and `has["editOrder"]`, one `edit_order` call (Binance
spot: order/cancelReplace, cancel and new order in one request, STOP_ON_FAILURE) for the quantity still to
fill; a fill that races with it between our fresh look at the order and the exchange's cancel could be
replaced in full (over-fill by that fill). `replace_mode="cancel_create"` rules that out: cancel, read the
final filled quantity, then create the remainder; the cost is a moment with no working order, and when the
create fails the order stays canceled (the error says so; `order(id)` shows it).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from traderbot.brokers.base import BrokerOrder, BrokerRejected, BrokerUnavailable
from traderbot.brokers.ccxt.mapping import combine_chain, replacement_id, split_client_id, to_broker_order
from traderbot.brokers.ccxt.orders import CcxtOrderArgs, build_args, features
from traderbot.model.enums import OrderStatus
from traderbot.model.order import Order

if TYPE_CHECKING:
    from traderbot.brokers.ccxt.broker import CcxtBroker

CLIENT_ID_LOOKUP = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})


class OrderTracker:
    """Client ids <-> markets and venue ids, replacement chains, and the orders placed but not yet settled."""

    def __init__(self, broker: CcxtBroker) -> None:
        self.broker = broker
        self.traded: set[str] = set()
        self.pending: dict[str, str] = {}  # venue order id -> symbol: placed here, open at the ack
        self.replacements: dict[str, int] = {}  # our client id -> replacements sent in this session
        self._symbol: dict[str, str] = {}  # our client id -> symbol
        self._live: dict[str, str] = {}  # our client id -> venue id of its working member
        self._client: dict[str, str] = {}  # venue order id -> our client id ("" for orders not ours)

    # ---- memory -----------------------------------------------------------------------------------------------
    def remember(self, client_id: str, symbol: str) -> None:
        self._symbol[client_id] = symbol
        self.traded.add(symbol)

    def symbol_of(self, client_id: str) -> str | None:
        return self._symbol.get(client_id)

    def placed(self, client_id: str, venue_id: str, symbol: str, is_open: bool) -> None:
        if venue_id:
            self._client[venue_id] = client_id
            self._live[client_id] = venue_id
            if is_open:
                self.pending[venue_id] = symbol

    def live_venue_id(self, client_id: str) -> str | None:
        return self._live.get(client_id)

    @staticmethod
    def with_request(res: dict[str, Any], args: CcxtOrderArgs) -> dict[str, Any]:
        """Exchanges that answer with a bare ack (id only) get the request's own fields filled in."""
        defaults = {"amount": args.amount, "side": args.side, "type": args.type, "price": args.price}
        return {**res, **{k: v for k, v in defaults.items() if res.get(k) is None}}

    def feature(self, symbol: str, method: str, key: str) -> Any:
        ex = self.broker.exchange
        return (features(ex, ex.market(symbol)).get(method) or {}).get(key)

    # ---- finding orders ---------------------------------------------------------------------------------------
    def _by_client_id(self) -> bool:
        cfg = self.broker.config
        return (
            cfg.client_id_lookup if cfg.client_id_lookup is not None else cfg.exchange_id in CLIENT_ID_LOOKUP
        )

    async def _fetch_by_client_id(self, venue_cid: str, symbol: str) -> dict[str, Any] | None:
        ex = self.broker.exchange
        return await self.broker.call_or_none(
            ex.fetch_order("", symbol, {"clientOrderId": venue_cid}),
            f"looking up order {venue_cid} on {symbol}",
        )

    async def _recent_orders(self, symbol: str) -> list[dict[str, Any]]:
        ex, call = self.broker.exchange, self.broker.call
        if ex.has.get("fetchOrders"):
            return list(await call(ex.fetch_orders(symbol), f"fetching {symbol} orders"))
        rows = list(await call(ex.fetch_open_orders(symbol), f"fetching open {symbol} orders"))
        rows += await call(ex.fetch_closed_orders(symbol), f"fetching closed {symbol} orders")
        if ex.has.get("fetchCanceledOrders"):
            rows += await call(ex.fetch_canceled_orders(symbol), f"fetching canceled {symbol} orders")
        return rows

    async def chain(self, client_id: str, symbol: str) -> list[dict[str, Any]]:
        """The venue orders behind our client id, oldest first ([] when the exchange never saw it)."""
        if not self._by_client_id():
            found: dict[int, dict[str, Any]] = {}
            for row in await self._recent_orders(symbol):
                base, n = split_client_id(str(row.get("clientOrderId") or ""))
                if base == client_id:
                    found[n] = row
            return [found[n] for n in sorted(found)]
        out: list[dict[str, Any]] = []
        while True:
            vcid = replacement_id(client_id, len(out)) if out else client_id
            o = await self._fetch_by_client_id(vcid, symbol)
            if o is None:
                return out
            out.append(o)
            if o.get("status") not in ("canceled", "cancelled"):
                return out

    async def client_id_for(self, venue_id: str, symbol: str) -> str:
        """Our client id for a venue order id (asked of the exchange once, then remembered)."""
        if not venue_id:
            return ""
        if venue_id not in self._client:
            ex = self.broker.exchange
            o = await self.broker.call_or_none(
                ex.fetch_order(venue_id, symbol), f"looking up order {venue_id}"
            )
            self._client[venue_id] = split_client_id(str((o or {}).get("clientOrderId") or ""))[0]
        return self._client[venue_id]

    async def trades(self, symbol: str, since_ms: int | None) -> list[dict[str, Any]]:
        """The account's trades on `symbol` at or after since_ms, in windows the exchange accepts."""
        ex, call = self.broker.exchange, self.broker.call
        limit = min(int(self.feature(symbol, "fetchMyTrades", "limit") or 500), 1000)
        what = f"fetching {symbol} trades"
        if since_ms is None:
            return sorted(await call(ex.fetch_my_trades(symbol, None, limit), what), key=_trade_key)
        out: dict[str, dict[str, Any]] = {}
        start, now = since_ms, ex.milliseconds()
        while start <= now:
            end = min(start + self.broker.config.trades_window_ms - 1, now)
            page = await call(ex.fetch_my_trades(symbol, start, limit, {"until": end}), what)
            out.update({str(t["id"]): t for t in page})
            last = max((int(t["timestamp"]) for t in page), default=start)
            start = (last if last > start else start + 1) if len(page) >= limit else end + 1
        return sorted(out.values(), key=_trade_key)

    # ---- cancel and replace -----------------------------------------------------------------------------------
    async def cancel_venue(self, venue_id: str, symbol: str, client_id: str) -> dict[str, Any]:
        ex = self.broker.exchange
        res = await self.broker.call_or_none(ex.cancel_order(venue_id, symbol), f"the cancel of {client_id}")
        if res is None:
            raise BrokerRejected(
                f"{self.broker.name} could not cancel {client_id}: it is no longer open (filled or canceled).",
                code="ORDER_NOT_OPEN",
            )
        return res

    async def replace(
        self, order: Order, *, quantity: Decimal | None, price: Decimal | None, trigger_price: Decimal | None
    ) -> BrokerOrder:
        b, cid = self.broker, order.client_order_id
        ex, symbol = b.exchange, b.symbol(order.instrument_id)
        iid = b.instrument_id(symbol)
        raw = await self.chain(cid, symbol)
        if not raw:
            raise BrokerRejected(f"{b.name} does not know order {cid}.", code="ORDER_NOT_FOUND")
        members = [to_broker_order(o, iid, cid) for o in raw]
        now, last = combine_chain(members), members[-1]
        if not last.is_open:
            raise BrokerRejected(
                f"{b.name} cannot replace {cid}: it is {last.status.value}.", code="ORDER_NOT_OPEN"
            )
        total = quantity if quantity is not None else now.quantity
        new_price = price if price is not None else last.price
        new_trigger = trigger_price if trigger_price is not None else last.trigger_price
        vcid = replacement_id(cid, len(raw))

        def args_for(filled: Decimal) -> CcxtOrderArgs:
            left = total - filled
            if left <= 0:
                raise BrokerRejected(
                    f"{b.name} cannot replace {cid}: {filled} of it is filled already, the new quantity is {total}.",
                    code="QUANTITY_NOT_ABOVE_FILLED",
                )
            return build_args(
                ex, order, symbol, client_id=vcid, quantity=left, price=new_price, trigger_price=new_trigger
            )

        args = args_for(now.filled_qty)  # refused here (nothing sent) if off-grid or too small
        self.replacements[cid] = len(raw)
        if b.config.replace_mode == "auto" and ex.has.get("editOrder"):
            params = dict(args.params)
            if "triggerPrice" in params:  # ccxt's edit_order reads the legacy unified name
                params["stopPrice"] = params.pop("triggerPrice")
            res = await b.call(
                ex.edit_order(
                    last.venue_order_id, symbol, args.type, args.side, args.amount, args.price, params
                ),
                f"the replace of {cid}",
                placing=True,
            )
            before = [*members[:-1], _canceled(last)]
        else:
            await self.cancel_venue(last.venue_order_id, symbol, cid)
            final = await b.call(
                ex.fetch_order(last.venue_order_id, symbol), f"reading {cid} after its cancel"
            )
            before = [*members[:-1], to_broker_order(final, iid, cid)]
            args = args_for(combine_chain(before).filled_qty)
            res = await b.call(
                ex.create_order(args.symbol, args.type, args.side, args.amount, args.price, args.params),
                f"the replacement of {cid} (the old order is canceled)",
                placing=True,
            )
        if not isinstance(res, dict) or not res.get("id"):
            raise BrokerUnavailable(
                f"{b.name} answered the replace of {cid} without an order id; outcome unknown."
            )
        new = to_broker_order(self.with_request(res, args), iid, cid)
        self.placed(cid, new.venue_order_id, symbol, new.is_open)
        return combine_chain([*before, new])


def _canceled(o: BrokerOrder) -> BrokerOrder:
    return replace(o, status=OrderStatus.CANCELED)


def _trade_key(t: dict[str, Any]) -> tuple[int, str]:
    return int(t.get("timestamp") or 0), str(t.get("id"))
