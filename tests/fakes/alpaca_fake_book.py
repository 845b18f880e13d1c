"""The state behind AlpacaFake: orders, positions, FILL activities and cash, kept like Alpaca's paper venue.

Orders match against settable prices: market orders fill at once (or partly, on request), limits when the
price reaches them, stops when triggered; bracket legs wait ("held") until the entry fills and then cancel
each other. Every change emits a trade update (`emit(data)`) shaped like Alpaca's stream messages.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

ZERO = Decimal(0)
OPEN = {"new", "accepted", "partially_filled", "held", "pending_new"}
TYPES = {"market", "limit", "stop", "stop_limit", "trailing_stop"}
TIFS = {"day", "gtc", "opg", "cls", "ioc", "fok"}


class FakeReject(Exception):
    """An Alpaca error answer: HTTP status plus its {"code", "message"} body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def rfc3339(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def _s(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def _num(body: dict[str, Any], key: str) -> Decimal | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise FakeReject(422, 40010001, f"invalid {key}: {value!r}") from None
    if out <= 0:
        raise FakeReject(422, 40010001, f"{key} must be > 0")
    if key.endswith("price") and out >= 1 and out != out.quantize(Decimal("0.01")):
        raise FakeReject(
            422,
            42210000,
            f"invalid {key} {value}. sub-penny increment does not fulfill minimum pricing criteria",
        )
    return out


@dataclass
class FakeOrder:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    notional: Decimal | None = None
    order_class: str = "simple"
    status: str = "new"
    created_at: int = field(default_factory=time.time_ns)
    updated_at: int = field(default_factory=time.time_ns)
    filled_qty: Decimal = ZERO
    filled_cost: Decimal = ZERO
    filled_at: int | None = None
    canceled_at: int | None = None
    replaced_at: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    legs: list[str] = field(default_factory=list)
    parent: str | None = None
    triggered: bool = False
    hold_rest: bool = False  # partly filled on request: the rest fills only via fill_rest()
    hwm: Decimal | None = None

    def json(self, book: AlpacaBook) -> dict[str, Any]:
        ts = rfc3339
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "submitted_at": ts(self.created_at),
            "filled_at": ts(self.filled_at) if self.filled_at else None,
            "expired_at": None,
            "canceled_at": ts(self.canceled_at) if self.canceled_at else None,
            "failed_at": None,
            "replaced_at": ts(self.replaced_at) if self.replaced_at else None,
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": book.asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": _s(self.notional),
            "qty": None if self.notional is not None and not self.filled_qty else _s(self.qty),
            "filled_qty": _s(self.filled_qty),
            "filled_avg_price": _s(self.filled_cost / self.filled_qty) if self.filled_qty else None,
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": _s(self.limit_price),
            "stop_price": _s(self.stop_price),
            "trail_price": _s(self.trail_price),
            "trail_percent": None,
            "hwm": _s(self.hwm),
            "status": self.status,
            "extended_hours": False,
            "legs": [book.orders[leg].json(book) for leg in self.legs] or None,
        }


class AlpacaBook:
    """Orders by id and by client order id, positions, FILL activities, cash and prices."""

    def __init__(self, prices: dict[str, Decimal], cash: Decimal) -> None:
        self.prices = dict(prices)
        self.cash = cash
        self.orders: dict[str, FakeOrder] = {}
        self.by_client: dict[str, str] = {}
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (signed qty, avg entry price)
        self.activities: list[dict[str, Any]] = []
        self.partial_next: list[Decimal] = []  # sizes of the next market orders' first (partial) fills
        self.emit: Callable[[dict[str, Any]], None] = lambda data: None
        self._asset_ids: dict[str, str] = {}

    def asset_id(self, symbol: str) -> str:
        return self._asset_ids.setdefault(symbol, str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)))

    def find(self, ref: str) -> FakeOrder:
        order = self.orders.get(ref) or self.orders.get(self.by_client.get(ref, ""))
        if order is None:
            raise FakeReject(404, 40410000, "order not found")
        return order

    # ---- requests -------------------------------------------------------------------------------------------
    def submit(self, body: dict[str, Any]) -> FakeOrder:
        symbol, side, kind = body.get("symbol"), body.get("side"), body.get("type")
        tif, cid = body.get("time_in_force"), body.get("client_order_id") or str(uuid.uuid4())
        if symbol not in self.prices:
            raise FakeReject(422, 40010001, f'asset "{symbol}" not found')
        if side not in ("buy", "sell") or kind not in TYPES or tif not in TIFS:
            raise FakeReject(422, 40010001, "invalid side, type or time_in_force")
        if len(cid) > 128 or cid in self.by_client:
            raise FakeReject(422, 40010001, "client_order_id must be unique")
        qty, notional = _num(body, "qty"), _num(body, "notional")
        if (qty is None) == (notional is None):
            raise FakeReject(422, 40010001, "qty or notional is required")
        if notional is not None:
            if kind != "market" or tif != "day":
                raise FakeReject(422, 40010001, "notional orders must be market day orders")
            qty = (notional / self.prices[symbol]).quantize(Decimal("0.000000001"), ROUND_DOWN)
        assert qty is not None
        o = FakeOrder(str(uuid.uuid4()), cid, symbol, side, kind, tif, qty, notional=notional)
        o.limit_price, o.stop_price = _num(body, "limit_price"), _num(body, "stop_price")
        o.trail_price = _num(body, "trail_price")
        if kind in ("limit", "stop_limit") and o.limit_price is None:
            raise FakeReject(422, 40010001, "limit_price is required")
        if kind in ("stop", "stop_limit") and o.stop_price is None:
            raise FakeReject(422, 40010001, "stop_price is required")
        if kind == "trailing_stop" and o.trail_price is None:
            raise FakeReject(422, 40010001, "trail_price or trail_percent is required")
        legs = self._legs(o, body)
        if side == "buy" and qty * (o.limit_price or self.prices[symbol]) > self.buying_power():
            raise FakeReject(403, 40310000, "insufficient buying power")
        self._add(o)
        for leg in legs:
            self._add(leg)
            o.legs.append(leg.id)
        self.emit(self._update("new", o))
        self._match(o)
        return o

    def _legs(self, o: FakeOrder, body: dict[str, Any]) -> list[FakeOrder]:
        o.order_class = body.get("order_class") or "simple"
        if o.order_class == "simple":
            return []
        if o.order_class not in ("bracket", "oto"):
            raise FakeReject(422, 40010001, f"order_class {o.order_class} is not supported here")
        tp, sl = body.get("take_profit") or {}, body.get("stop_loss") or {}
        tp_px, sl_px = _num(tp, "limit_price"), _num(sl, "stop_price")
        if o.order_class == "bracket" and (tp_px is None or sl_px is None):
            raise FakeReject(
                422, 40010001, "bracket orders require take_profit.limit_price and stop_loss.stop_price"
            )
        if o.order_class == "oto" and (tp_px is None) == (sl_px is None):
            raise FakeReject(422, 40010001, "oto orders require one of take_profit or stop_loss")
        exit_side = "sell" if o.side == "buy" else "buy"
        legs = []
        for kind, px in (("limit", tp_px), ("stop", sl_px)):
            if px is not None:
                leg = FakeOrder(
                    str(uuid.uuid4()), str(uuid.uuid4()), o.symbol, exit_side, kind, o.time_in_force, o.qty
                )
                leg.limit_price, leg.stop_price = (px, None) if kind == "limit" else (None, px)
                leg.status, leg.parent, leg.order_class = "held", o.id, o.order_class
                legs.append(leg)
        return legs

    def _add(self, o: FakeOrder) -> None:
        self.orders[o.id] = o
        self.by_client[o.client_order_id] = o.id

    def cancel(self, ref: str) -> None:
        o = self.find(ref)
        if o.status not in OPEN:
            raise FakeReject(422, 42210000, f"order is not cancelable (status {o.status})")
        self._close(o, "canceled")
        for leg in o.legs:
            if self.orders[leg].status in OPEN:
                self._close(self.orders[leg], "canceled")

    def replace(self, ref: str, body: dict[str, Any]) -> FakeOrder:
        old = self.find(ref)
        if old.status not in ("new", "accepted"):
            raise FakeReject(422, 42210000, f"order is not replaceable (status {old.status})")
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if cid in self.by_client:
            raise FakeReject(422, 40010001, "client_order_id must be unique")
        new = FakeOrder(str(uuid.uuid4()), cid, old.symbol, old.side, old.type, old.time_in_force, old.qty)
        new.qty = _num(body, "qty") or old.qty
        new.limit_price = _num(body, "limit_price") or old.limit_price
        new.stop_price = _num(body, "stop_price") or old.stop_price
        new.replaces, new.order_class = old.id, old.order_class
        if (new.qty, new.limit_price, new.stop_price) == (old.qty, old.limit_price, old.stop_price):
            raise FakeReject(422, 40310000, "order parameters are not changed")
        old.status, old.replaced_by, old.replaced_at = "replaced", new.id, time.time_ns()
        old.updated_at = old.replaced_at
        self._add(new)
        self.emit(self._update("replaced", old))
        self.emit(self._update("new", new))
        self._match(new)
        return new

    # ---- matching -------------------------------------------------------------------------------------------
    def set_price(self, symbol: str, price: Decimal) -> None:
        self.prices[symbol] = price
        for o in list(self.orders.values()):
            if o.symbol == symbol and o.status in ("new", "partially_filled"):
                self._match(o)

    def fill_rest(self, ref: str, price: Decimal | None = None) -> None:
        o = self.find(ref)
        o.hold_rest = False
        self._fill(o, o.qty - o.filled_qty, price or self.prices[o.symbol])

    def _match(self, o: FakeOrder) -> None:
        if o.status not in ("new", "partially_filled") or o.hold_rest:
            return
        px = self.prices[o.symbol]
        buy = o.side == "buy"
        if o.type == "trailing_stop":
            assert o.trail_price is not None
            o.hwm = px if o.hwm is None else (min(o.hwm, px) if buy else max(o.hwm, px))
            o.stop_price = o.hwm + o.trail_price if buy else o.hwm - o.trail_price
        if o.type in ("stop", "stop_limit", "trailing_stop") and not o.triggered:
            assert o.stop_price is not None
            o.triggered = px >= o.stop_price if buy else px <= o.stop_price
            if not o.triggered:
                return
        if o.type in ("limit", "stop_limit"):
            assert o.limit_price is not None
            if (buy and px > o.limit_price) or (not buy and px < o.limit_price):
                return self._ioc(o)
        qty = o.qty - o.filled_qty
        if o.type == "market" and self.partial_next and o.time_in_force != "fok":
            qty, o.hold_rest = min(qty, self.partial_next.pop(0)), True
        self._fill(o, qty, px)
        self._ioc(o)

    def _ioc(self, o: FakeOrder) -> None:
        if o.time_in_force in ("ioc", "fok") and o.status in OPEN:
            self._close(o, "canceled")

    def _fill(self, o: FakeOrder, qty: Decimal, price: Decimal) -> None:
        now = time.time_ns()
        o.filled_qty += qty
        o.filled_cost += qty * price
        o.status = "filled" if o.filled_qty >= o.qty else "partially_filled"
        o.updated_at = now
        o.filled_at = now if o.status == "filled" else None
        signed = qty if o.side == "buy" else -qty
        self.cash -= signed * price
        pos_qty = self._position(o.symbol, signed, price)
        execution_id = str(uuid.uuid4())
        kind = "fill" if o.status == "filled" else "partial_fill"
        stamp = datetime.fromtimestamp(now // 1_000_000_000, UTC).strftime("%Y%m%d%H%M%S")
        self.activities.append(
            {
                "id": f"{stamp}{(now // 1_000_000) % 1000:03d}::{execution_id}",
                "activity_type": "FILL",
                "transaction_time": rfc3339(now),
                "type": kind,
                "price": _s(price),
                "qty": _s(qty),
                "side": o.side,
                "symbol": o.symbol,
                "leaves_qty": _s(o.qty - o.filled_qty),
                "order_id": o.id,
                "cum_qty": _s(o.filled_qty),
                "order_status": o.status,
            }
        )
        update = self._update(kind, o, now)
        update.update(execution_id=execution_id, price=_s(price), qty=_s(qty), position_qty=_s(pos_qty))
        self.emit(update)
        if o.status == "filled":
            self._after_fill(o)

    def _after_fill(self, o: FakeOrder) -> None:
        for leg_id in o.legs:  # the entry filled: its exits go live
            leg = self.orders[leg_id]
            leg.status = "new"
            self.emit(self._update("new", leg))
            self._match(leg)
        if o.parent is not None:  # an exit filled: its sibling is canceled (one cancels the other)
            for sib in self.orders[o.parent].legs:
                if sib != o.id and self.orders[sib].status in OPEN:
                    self._close(self.orders[sib], "canceled")

    def _position(self, symbol: str, signed: Decimal, price: Decimal) -> Decimal:
        qty, avg = self.positions.get(symbol, (ZERO, ZERO))
        new = qty + signed
        if new == 0:
            self.positions.pop(symbol, None)
            return ZERO
        if qty == 0 or (qty > 0) != (new > 0):
            avg = price  # opened or flipped
        elif (qty > 0) == (signed > 0):
            avg = (qty * avg + signed * price) / new
        self.positions[symbol] = (new, avg)
        return new

    def _close(self, o: FakeOrder, status: str) -> None:
        o.status, o.updated_at = status, time.time_ns()
        o.canceled_at = o.updated_at if status == "canceled" else None
        self.emit(self._update(status, o))

    def _update(self, event: str, o: FakeOrder, ts: int | None = None) -> dict[str, Any]:
        return {"event": event, "timestamp": rfc3339(ts or time.time_ns()), "order": o.json(self)}

    # ---- account --------------------------------------------------------------------------------------------
    def buying_power(self) -> Decimal:
        reserved = sum(
            (o.qty - o.filled_qty) * (o.limit_price or self.prices[o.symbol])
            for o in self.orders.values()
            if o.side == "buy" and o.status in ("new", "partially_filled") and o.parent is None
        )
        return self.cash - reserved

    def equity(self) -> Decimal:
        return self.cash + sum(q * self.prices[s] for s, (q, _) in self.positions.items())
