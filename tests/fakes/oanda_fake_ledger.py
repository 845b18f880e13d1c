"""The fake OANDA account's ledger: the transaction log, prices, trades and the fill engine.

Everything is kept as OANDA's documented JSON objects (Order, Trade, Transaction) with exact decimal strings;
times are integer UTC nanoseconds, rendered by the HTTP layer in the requested format. Fills happen at the
touch (ask to buy, bid to sell) and net FIFO against opposite trades; opening a trade creates the order's
take profit / stop loss / trailing stop loss orders, and closing it cancels them (LINKED_TRADE_CLOSED).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.fakes.oanda_fake_rules import INSTRUMENTS, PRICES, Reply, q, units_of

JSON = dict[str, Any]
MONEY = Decimal("0.0001")


class Ledger:
    """State and bookkeeping shared by every endpoint of the fake."""

    def __init__(self, account_id: str, *, balance: str = "100000.0000", currency: str = "USD") -> None:
        self.account_id, self.currency = account_id, currency
        self.balance = Decimal(balance)
        self.instruments: dict[str, JSON] = {k: dict(v) for k, v in INSTRUMENTS.items()}
        self.prices: dict[str, tuple[Decimal, Decimal]] = {
            k: (Decimal(b), Decimal(a)) for k, (b, a) in PRICES.items()
        }
        self.halted: set[str] = set()
        self.orders: dict[str, JSON] = {}
        self.by_client_id: dict[str, str] = {}
        self.filled: Counter[str] = Counter()  # order id -> units filled so far (absolute)
        self.trades: dict[str, JSON] = {}
        self.txs: list[JSON] = []
        self.candles: dict[tuple[str, str], list[tuple[int, str, str, str, str, int]]] = {}
        self.partial: Decimal | None = None
        self.commission_rate = Decimal(0)  # commission = |units| * price * rate (in the account currency)
        self.listeners: list[Callable[[JSON], None]] = []
        self._last_time = 0
        self._batch = ""
        self.created = self._now()
        self._tx("CREATE", homeCurrency=currency, accountNumber=1)
        self._tx("CLIENT_CONFIGURE", alias="fake", marginRate="0.02")
        self._tx(
            "TRANSFER_FUNDS",
            amount=str(self.balance),
            fundingReason="CLIENT_FUNDING",
            accountBalance=str(self.balance),
        )

    # ---- bookkeeping ----------------------------------------------------------------------------------------
    def _now(self) -> int:
        self._last_time = max(self._last_time + 1, time.time_ns())
        return self._last_time

    @property
    def last_id(self) -> str:
        return self.txs[-1]["id"] if self.txs else "0"

    def _tx(self, kind: str, **fields: Any) -> JSON:
        tx_id = str(len(self.txs) + 1)
        tx: JSON = {
            "id": tx_id,
            "time": self._now(),
            "userID": 1,
            "accountID": self.account_id,
            "batchID": self._batch or tx_id,
            "requestID": f"r{tx_id}",
            "type": kind,
        }
        tx.update({k: v for k, v in fields.items() if v is not None})
        self.txs.append(tx)
        for listener in list(self.listeners):
            listener(tx)
        return tx

    def _begin(self) -> None:
        self._batch = str(len(self.txs) + 1)

    def _reply(self, status: int, **body: Any) -> Reply:
        batch = int(self._batch or self.last_id)
        related = [t["id"] for t in self.txs[batch - 1 :]] if self._batch else []
        self._batch = ""
        body = {k: v for k, v in body.items() if v is not None}
        if related:
            body["relatedTransactionIDs"] = related
        body["lastTransactionID"] = self.last_id
        return status, body

    def price(self, name: str) -> tuple[Decimal, Decimal]:
        return self.prices[name]

    def _home(self, amount: Decimal, name: str) -> Decimal:
        """An amount in the instrument's quote currency -> account currency (at the current mid)."""
        quote = name.split("_")[1]
        if quote == self.currency:
            return amount
        for pair, invert in ((f"{self.currency}_{quote}", True), (f"{quote}_{self.currency}", False)):
            if pair in self.prices:
                bid, ask = self.prices[pair]
                mid = (bid + ask) / 2
                return amount / mid if invert else amount * mid
        return amount

    def _create(self, req: JSON, replaces: JSON | None, reason: str = "CLIENT_ORDER", **extra: Any) -> JSON:
        kind = req["type"]
        fields = {k: v for k, v in req.items() if k != "type"}
        fields.setdefault("timeInForce", "FOK" if kind == "MARKET" else "GTC")
        fields.setdefault("positionFill", "DEFAULT")
        if replaces is not None:
            fields["replacesOrderID"], reason = replaces["id"], "REPLACEMENT"
        tx = self._tx(f"{kind}_ORDER", reason=reason, **fields, **extra)
        order = {
            "id": tx["id"],
            "createTime": tx["time"],
            "type": kind,
            "state": "PENDING",
            **fields,
            **extra,
        }
        self.orders[tx["id"]] = order
        client_id = (req.get("clientExtensions") or {}).get("id")
        if client_id:
            self.by_client_id[client_id] = tx["id"]
        return tx

    def _cancel(self, order: JSON, reason: str, **extra: Any) -> JSON:
        client_id = (order.get("clientExtensions") or {}).get("id")
        tx = self._tx("ORDER_CANCEL", orderID=order["id"], clientOrderID=client_id, reason=reason, **extra)
        order.update(state="CANCELLED", cancellingTransactionID=tx["id"], cancelledTime=tx["time"], **extra)
        return tx

    def _marketable(self, order: JSON) -> bool:
        kind = order["type"]
        if kind == "MARKET":
            return True
        bid, ask = self.price(order["instrument"])
        if kind in ("LIMIT", "MARKET_IF_TOUCHED", "STOP"):
            price, buy = Decimal(order["price"]), units_of(order) > 0
            if kind == "STOP":
                return ask >= price if buy else bid <= price
            return ask <= price if buy else bid >= price
        trade = self.trades.get(order.get("tradeID", ""))
        if trade is None or kind == "TRAILING_STOP_LOSS":
            return False
        price, long = Decimal(order["price"]), Decimal(trade["currentUnits"]) > 0
        if kind == "TAKE_PROFIT":
            return bid >= price if long else ask <= price
        return bid <= price if long else ask >= price  # STOP_LOSS

    # ---- fills and trades -----------------------------------------------------------------------------------
    def _fill(self, order: JSON, units: Decimal, close_trade: str | None = None) -> JSON:
        """One ORDER_FILL of `units` (signed; for an order, at most what is left) at the touch price."""
        name = order["instrument"]
        total = abs(Decimal(order["units"])) if "units" in order else abs(units)
        units = (
            units
            if abs(units) <= total - self.filled[order["id"]]
            else (total - self.filled[order["id"]]) * (1 if units > 0 else -1)
        )
        bid, ask = self.price(name)
        px = ask if units > 0 else bid
        tx_id = str(len(self.txs) + 1)
        closed, reduced, opened, pl = self._net(name, units, px, tx_id, close_trade)
        fee = self._home(abs(units) * px * self.commission_rate, name).quantize(MONEY)
        self.balance += pl - fee
        client_id = (order.get("clientExtensions") or {}).get("id")
        reason = {"MARKET": "MARKET_ORDER", "LIMIT": "LIMIT_ORDER", "STOP": "STOP_ORDER"}.get(
            order["type"], f"{order['type']}_ORDER"
        )
        if order.get("tradeClose"):
            reason = "MARKET_ORDER_TRADE_CLOSE"
        elif order.get("longPositionCloseout") or order.get("shortPositionCloseout"):
            reason = "MARKET_ORDER_POSITION_CLOSEOUT"
        price_str = self._fmt_price(name, px)
        tx = self._tx(
            "ORDER_FILL",
            orderID=order["id"],
            clientOrderID=client_id,
            instrument=name,
            units=str(units),
            price=price_str,
            fullVWAP=price_str,
            reason=reason,
            pl=str(pl.quantize(MONEY)),
            financing="0.0000",
            commission=str(fee),
            guaranteedExecutionFee="0.0000",
            accountBalance=str(self.balance.quantize(MONEY)),
            fullPrice={
                "type": "PRICE",
                "instrument": name,
                "timestamp": self._last_time,
                "bids": [{"price": self._fmt_price(name, bid), "liquidity": "10000000"}],
                "asks": [{"price": self._fmt_price(name, ask), "liquidity": "10000000"}],
                "closeoutBid": self._fmt_price(name, bid),
                "closeoutAsk": self._fmt_price(name, ask),
            },
            tradeOpened=opened,
            tradesClosed=closed or None,
            tradeReduced=reduced,
        )
        assert tx["id"] == tx_id
        for leg in closed:  # after the fill: closing a trade cancels its take profit / stop loss orders
            self._close_trade_state(self.trades[leg["tradeID"]], tx_id)
        self.filled[order["id"]] += abs(units)
        if self.filled[order["id"]] >= total:
            order.update(state="FILLED", fillingTransactionID=tx["id"], filledTime=tx["time"])
            if opened:
                order["tradeOpenedID"] = opened["tradeID"]
            if reduced:
                order["tradeReducedID"] = reduced["tradeID"]
            if closed:
                order["tradeClosedIDs"] = [c["tradeID"] for c in closed]
        if opened:
            self._open_trade(order, opened, tx)
        return tx

    def _fmt_price(self, name: str, px: Decimal) -> str:
        return str(px.quantize(q(self.instruments[name]["displayPrecision"])))

    def _net(
        self, name: str, units: Decimal, px: Decimal, tx_id: str, close_trade: str | None
    ) -> tuple[list[JSON], JSON | None, JSON | None, Decimal]:
        """FIFO netting: close or reduce opposite trades, open a new trade with what is left."""
        closed: list[JSON] = []
        reduced = opened = None
        pl, left = Decimal(0), units
        candidates = [self.trades[close_trade]] if close_trade else list(self.trades.values())
        for trade in candidates:
            cur = Decimal(trade["currentUnits"])
            if trade["instrument"] != name or cur * left >= 0 or left == 0:
                continue
            take = -cur if abs(cur) <= abs(left) else left
            gain = self._home((px - Decimal(trade["price"])) * -take, name).quantize(MONEY)
            pl += gain
            leg = {
                "tradeID": trade["id"],
                "units": str(take),
                "price": self._fmt_price(name, px),
                "realizedPL": str(gain),
                "financing": "0.0000",
                "guaranteedExecutionFee": "0.0000",
            }
            trade["currentUnits"] = str(cur + take)
            trade["realizedPL"] = str(Decimal(trade["realizedPL"]) + gain)
            left -= take
            if Decimal(trade["currentUnits"]) == 0:
                closed.append(leg)
            else:
                reduced = leg
        if left != 0:
            opened = {
                "tradeID": tx_id,
                "units": str(left),
                "price": self._fmt_price(name, px),
                "guaranteedExecutionFee": "0.0000",
                "halfSpreadCost": "0.0000",
            }
        return closed, reduced, opened, pl

    def _close_trade_state(self, trade: JSON, tx_id: str) -> None:
        trade.update(state="CLOSED", closeTime=self._last_time, closingTransactionIDs=[tx_id])
        del self.trades[trade["id"]]
        for order in list(self.orders.values()):
            if order.get("tradeID") == trade["id"] and order["state"] == "PENDING":
                self._cancel(order, "LINKED_TRADE_CLOSED")

    def _open_trade(self, order: JSON, opened: JSON, fill: JSON) -> None:
        ext = order.get("tradeClientExtensions")
        trade = {
            "id": opened["tradeID"],
            "instrument": order["instrument"],
            "price": opened["price"],
            "openTime": fill["time"],
            "state": "OPEN",
            "initialUnits": opened["units"],
            "currentUnits": opened["units"],
            "realizedPL": "0.0000",
            "financing": "0.0000",
            "clientExtensions": ext,
        }
        self.trades[trade["id"]] = {k: v for k, v in trade.items() if v is not None}
        for key, kind in (
            ("takeProfitOnFill", "TAKE_PROFIT"),
            ("stopLossOnFill", "STOP_LOSS"),
            ("trailingStopLossOnFill", "TRAILING_STOP_LOSS"),
        ):
            details = order.get(key)
            if isinstance(details, dict):
                req = {
                    "type": kind,
                    "tradeID": trade["id"],
                    "instrument": order["instrument"],
                    "timeInForce": details.get("timeInForce", "GTC"),
                    "triggerCondition": "DEFAULT",
                    **{k: v for k, v in details.items() if k in ("price", "distance")},
                }
                if ext and ext.get("id"):
                    req["clientTradeID"] = ext["id"]
                tx = self._create(req, None, "ON_FILL", orderFillTransactionID=fill["id"])
                self.trades[trade["id"]][f"{key.removesuffix('OnFill')}OrderID"] = tx["id"]

    def summary(self) -> JSON:
        upl = margin = Decimal(0)
        for t in self.trades.values():
            bid, ask = self.price(t["instrument"])
            units = Decimal(t["currentUnits"])
            mark = bid if units > 0 else ask
            upl += self._home((mark - Decimal(t["price"])) * units, t["instrument"])
            rate = Decimal(self.instruments[t["instrument"]]["marginRate"])
            margin += self._home(abs(units) * (bid + ask) / 2 * rate, t["instrument"])
        nav = self.balance + upl
        return {"NAV_d": nav, "marginAvailable_d": nav - margin, "upl": upl, "margin": margin}
