"""The state and matching engine behind BinanceFake: balances (free/locked), orders by id and by client id,
trades with ids, Binance's filters (LOT_SIZE, PRICE_FILTER, NOTIONAL) and its documented error codes.

Market orders fill at the touch (or partly, on request), marketable limits fill at once, other limits rest and
fill when `set_quote` crosses them, STOP_LOSS / STOP_LOSS_LIMIT orders wait for their stopPrice. Commission is
charged in the quote asset. Numbers are Decimals, written with 8 decimals as Binance does.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from aiohttp import web

Json = dict[str, Any]
_EIGHT = Decimal("0.00000001")
OPEN = ("NEW", "PARTIALLY_FILLED")


def fmt8(d: Decimal) -> str:
    return f"{d.quantize(_EIGHT):f}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class BinanceError(Exception):
    """A refusal in Binance's words: HTTP status, error code and message (and cancelReplace's data)."""

    def __init__(self, status: int, code: int, msg: str, data: Json | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.data = status, code, msg, data

    def response(self) -> web.Response:
        body: Json = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            body["data"] = self.data
        return web.json_response(body, status=self.status)


@dataclass
class SymbolSpec:
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    bid: Decimal
    ask: Decimal
    min_notional: Decimal = Decimal("5")


class BinanceBook:
    """Accounts, orders and trades of one fake Binance Spot account; BinanceFake serves it over HTTP."""

    def __init__(self) -> None:
        self.commission_rate = Decimal("0.001")  # charged in the quote asset
        self.symbols: dict[str, SymbolSpec] = {
            "BTCUSDT": SymbolSpec(
                "BTC", "USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"),
                Decimal("50000.00"), Decimal("50000.10"),
            ),
            "ETHUSDT": SymbolSpec(
                "ETH", "USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"),
                Decimal("3000.00"), Decimal("3000.05"),
            ),
        }  # fmt: skip
        self.free: dict[str, Decimal] = defaultdict(Decimal, {"USDT": Decimal("100000"), "BNB": Decimal("1")})
        self.locked: dict[str, Decimal] = defaultdict(Decimal)
        self.orders: dict[int, Json] = {}
        self.trades: list[Json] = []
        self.submissions: Counter[str] = Counter()
        self._partials: deque[Decimal] = deque()
        self._order_seq, self._trade_seq = 1000, 5000

    # ---- controls ---------------------------------------------------------------------------------------------
    def fill_partially_next(self, fraction: Decimal, *, times: int = 1) -> None:
        """The next `times` MARKET orders fill only `fraction` of their quantity and stay PARTIALLY_FILLED."""
        self._partials.extend([fraction] * times)

    def fill_rest(self, client_order_id: str) -> None:
        """Fill what is left of a partially filled order at the current touch price."""
        o = self.find(None, client_order_id)
        if o is None or o["status"] not in OPEN:
            raise KeyError(f"no open order {client_order_id}")
        spec = self.symbols[o["symbol"]]
        self.execute(o, o["origQty"] - o["executedQty"], spec.ask if o["side"] == "BUY" else spec.bid, False)

    def set_quote(self, symbol: str, bid: Decimal, ask: Decimal) -> None:
        """Move the top of book; resting limit orders that cross fill and stop orders that trigger execute."""
        spec = self.symbols[symbol]
        spec.bid, spec.ask = bid, ask
        for o in [o for o in self.orders.values() if o["symbol"] == symbol and o["status"] in OPEN]:
            buy, stop = o["side"] == "BUY", o.get("stopPrice")
            if stop is not None and not o["triggered"]:
                if (buy and ask < stop) or (not buy and bid > stop):
                    continue
                o["triggered"] = True
            if o["type"] in ("MARKET", "STOP_LOSS"):
                self.execute(o, o["origQty"] - o["executedQty"], ask if buy else bid, False)
            elif (buy and ask <= o["price"]) or (not buy and bid >= o["price"]):
                self.execute(o, o["origQty"] - o["executedQty"], o["price"], True)

    # ---- lookups ----------------------------------------------------------------------------------------------
    def spec(self, params: dict[str, str]) -> SymbolSpec:
        symbol = need(params, "symbol")
        if symbol not in self.symbols:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return self.symbols[symbol]

    def find(self, order_id: str | None, client_id: str | None) -> Json | None:
        if order_id:
            return self.orders.get(int(order_id))
        matches = [o for o in self.orders.values() if o["clientOrderId"] == client_id]
        return matches[-1] if matches else None

    # ---- the matching engine ----------------------------------------------------------------------------------
    def place(self, params: dict[str, str], client_id: str | None) -> Json:
        spec = self.spec(params)
        side, kind = need(params, "side"), need(params, "type")
        client_id = client_id or f"fake-{self._order_seq + 1}"
        self.submissions[client_id] += 1
        qty = dec_param(need(params, "quantity"), "quantity")
        if qty < spec.min_qty or qty % spec.step:
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        price = dec_param(need(params, "price"), "price") if kind in ("LIMIT", "STOP_LOSS_LIMIT") else None
        stop = dec_param(need(params, "stopPrice"), "stopPrice") if kind.startswith("STOP_LOSS") else None
        for p in (price, stop):
            if p is not None and (p <= 0 or p % spec.tick):
                raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        if kind not in ("MARKET", "LIMIT", "STOP_LOSS", "STOP_LOSS_LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        if any(o["clientOrderId"] == client_id and o["status"] != "FILLED" for o in self.orders.values()):
            raise BinanceError(400, -2010, "Duplicate order sent.")
        touch = spec.ask if side == "BUY" else spec.bid
        if (price or touch) * qty < spec.min_notional:
            raise BinanceError(400, -1013, "Filter failure: NOTIONAL")
        need_quote = (price or touch) * qty * (1 + self.commission_rate)
        if (side == "BUY" and self.free[spec.quote] < need_quote) or (
            side == "SELL" and self.free[spec.base] < qty
        ):
            raise BinanceError(400, -2010, "Account has insufficient balance for requested action.")
        self._order_seq += 1
        now = now_ms()
        o: Json = {"symbol": params["symbol"], "orderId": self._order_seq, "clientOrderId": client_id, "price": price,
                   "origQty": qty, "executedQty": Decimal(0), "quoteQty": Decimal(0), "status": "NEW", "type": kind,
                   "timeInForce": params.get("timeInForce", "GTC"), "side": side, "stopPrice": stop,
                   "triggered": stop is None, "time": now, "updateTime": now, "fills": []}  # fmt: skip
        self.orders[o["orderId"]] = o
        if kind == "MARKET":
            part = self._partials.popleft() if self._partials else Decimal(1)
            self.execute(o, (qty * part / spec.step).to_integral_value(ROUND_DOWN) * spec.step, touch, False)
        elif kind == "LIMIT" and (
            (side == "BUY" and price >= spec.ask) or (side == "SELL" and price <= spec.bid)
        ):
            self.execute(o, qty, touch, False)
        else:
            self._hold(o)
        out = order_json(o) | {"transactTime": now}
        if params.get("newOrderRespType", "FULL") == "FULL":
            out["fills"] = [
                {"price": fmt8(t["price"]), "qty": fmt8(t["qty"]), "commission": fmt8(t["commission"]),
                 "commissionAsset": t["commissionAsset"], "tradeId": t["id"]}
                for t in o["fills"]
            ]  # fmt: skip
        return out

    def execute(self, o: Json, qty: Decimal, price: Decimal, maker: bool) -> None:
        if qty <= 0:
            return
        spec, buy = self.symbols[o["symbol"]], o["side"] == "BUY"
        self._release(o)  # what the resting part held; the rest is held again below
        notional = price * qty
        fee = (notional * self.commission_rate).quantize(_EIGHT)
        self.free[spec.base] += qty if buy else -qty
        self.free[spec.quote] += -notional - fee if buy else notional - fee
        self._trade_seq += 1
        trade = {"symbol": o["symbol"], "id": self._trade_seq, "orderId": o["orderId"], "price": price, "qty": qty,
                 "commission": fee, "commissionAsset": spec.quote, "time": now_ms(), "isBuyer": buy,
                 "isMaker": maker}  # fmt: skip
        self.trades.append(trade)
        o["fills"].append(trade)
        o["executedQty"] += qty
        o["quoteQty"] += notional
        o["status"] = "FILLED" if o["executedQty"] == o["origQty"] else "PARTIALLY_FILLED"
        o["updateTime"] = trade["time"]
        if o["status"] == "PARTIALLY_FILLED" and o["type"] != "MARKET":
            self._hold(o)

    def _hold(self, o: Json) -> None:
        """Lock what a resting order needs (a market stop buy holds nothing until it executes)."""
        spec, rest = self.symbols[o["symbol"]], o["origQty"] - o["executedQty"]
        if o["side"] == "BUY" and o["price"] is None:
            return
        asset, amount = (spec.quote, rest * o["price"]) if o["side"] == "BUY" else (spec.base, rest)
        self.free[asset] -= amount
        self.locked[asset] += amount
        o["held"] = (asset, amount)

    def _release(self, o: Json) -> None:
        asset, amount = o.pop("held", ("", Decimal(0)))
        if amount:
            self.free[asset] += amount
            self.locked[asset] -= amount

    def cancel(self, params: dict[str, str], order_id: str | None, client_id: str | None) -> Json:
        self.spec(params)
        if not order_id and not client_id:
            raise BinanceError(
                400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        o = self.find(order_id, client_id)
        if o is None or o["symbol"] != params["symbol"] or o["status"] not in OPEN:
            raise BinanceError(400, -2011, "Unknown order sent.")
        self._release(o)
        o["status"], o["updateTime"] = "CANCELED", now_ms()
        out = order_json(o)
        out["origClientOrderId"], out["clientOrderId"] = (
            o["clientOrderId"],
            params.get("newClientOrderId", "cancel"),
        )
        return out


# ---- wire formats -------------------------------------------------------------------------------------------
def symbol_info(name: str, spec: SymbolSpec) -> Json:
    return {
        "symbol": name, "status": "TRADING", "baseAsset": spec.base, "baseAssetPrecision": 8,
        "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                       "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt8(spec.tick), "maxPrice": "1000000.00000000",
             "tickSize": fmt8(spec.tick)},
            {"filterType": "LOT_SIZE", "minQty": fmt8(spec.min_qty), "maxQty": "9000.00000000",
             "stepSize": fmt8(spec.step)},
            {"filterType": "NOTIONAL", "minNotional": fmt8(spec.min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }  # fmt: skip


def kline(open_ms: int, step: int) -> list[Any]:
    k = open_ms // step
    o = Decimal(50000 + k % 97)
    c = o + Decimal(k % 11 - 5) / 4
    return [open_ms, fmt8(o), fmt8(max(o, c) + 3), fmt8(min(o, c) - 3), fmt8(c), fmt8(Decimal(1 + k % 10) / 8),
            open_ms + step - 1, "0", 1 + k % 50, "0", "0", "0"]  # fmt: skip


def order_json(o: Json) -> Json:
    out: Json = {
        "symbol": o["symbol"], "orderId": o["orderId"], "orderListId": -1, "clientOrderId": o["clientOrderId"],
        "price": fmt8(o["price"] or Decimal(0)), "origQty": fmt8(o["origQty"]), "executedQty": fmt8(o["executedQty"]),
        "cummulativeQuoteQty": fmt8(o["quoteQty"]), "status": o["status"], "timeInForce": o["timeInForce"],
        "type": o["type"], "side": o["side"], "time": o["time"], "updateTime": o["updateTime"],
        "isWorking": o["triggered"], "workingTime": o["time"] if o["triggered"] else -1,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER",
    }  # fmt: skip
    if o["stopPrice"] is not None:
        out["stopPrice"] = fmt8(o["stopPrice"])
    return out


def trade_json(t: Json) -> Json:
    return {"symbol": t["symbol"], "id": t["id"], "orderId": t["orderId"], "orderListId": -1,
            "price": fmt8(t["price"]), "qty": fmt8(t["qty"]), "quoteQty": fmt8(t["price"] * t["qty"]),
            "commission": fmt8(t["commission"]), "commissionAsset": t["commissionAsset"], "time": t["time"],
            "isBuyer": t["isBuyer"], "isMaker": t["isMaker"], "isBestMatch": True}  # fmt: skip


def need(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise BinanceError(
            400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def dec_param(text: str, name: str) -> Decimal:
    try:
        return Decimal(text)
    except ArithmeticError:
        raise BinanceError(400, -1100, f"Illegal characters found in parameter '{name}'.") from None
