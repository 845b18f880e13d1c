"""The state behind the OANDA v20 fake: one netting account with orders, trades and a transaction log.

Market orders fill at the ask (buy) or bid (sell); pending LIMIT/STOP orders and on-fill take profit / stop
loss orders fill when `set_price` crosses them. Trailing stop losses are recorded but never trigger.
Test-only: in partial-fill mode an order that fills at once fills `fraction` of its units and stays PENDING
for the rest until `fill_remaining` (OANDA itself would cancel a market order's remainder).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from tests.fakes.oanda_fake_ledger import JSON, MONEY, Ledger
from tests.fakes.oanda_fake_rules import Rejection, Reply, check_order, decimal_or_none, q, units_of

__all__ = ["MONEY", "OandaBook"]


class OandaBook(Ledger):
    """One account's order endpoints. Methods return (HTTP status, body) as the v20 endpoints document them."""

    def find_order(self, spec: str) -> JSON | None:
        order_id = self.by_client_id.get(spec[1:]) if spec.startswith("@") else spec
        return self.orders.get(order_id or "")

    def create_order(self, req: Any, *, replaces: JSON | None = None) -> Reply:
        rejection = check_order(req, self, replacing=replaces)
        if isinstance(rejection, Rejection):
            return self._reject(req, rejection)
        self._begin()
        cancel_old = None
        if replaces is not None:
            cancel_old = self._cancel(
                replaces, "CLIENT_REQUEST_REPLACED", replacedByOrderID=str(len(self.txs) + 2)
            )
        create = self._create(req, replaces)
        fill, cancel = self._execute(self.orders[create["id"]])
        if replaces is not None:
            return self._reply(
                201,
                orderCancelTransaction=cancel_old,
                orderCreateTransaction=create,
                orderFillTransaction=fill,
                replacingOrderCancelTransaction=cancel,
            )
        return self._reply(
            201, orderCreateTransaction=create, orderFillTransaction=fill, orderCancelTransaction=cancel
        )

    def _reject(self, req: Any, r: Rejection) -> Reply:
        if r.kind is None:  # malformed request: no transaction, as OANDA does for invalid values
            return self._reply(r.status, errorMessage=r.message)
        self._begin()
        fields = {k: v for k, v in (req if isinstance(req, dict) else {}).items() if k != "type"}
        tx = self._tx(f"{r.kind}_ORDER_REJECT", rejectReason=r.code, reason="CLIENT_ORDER", **fields)
        return self._reply(r.status, orderRejectTransaction=tx, errorCode=r.code, errorMessage=r.message)

    def _execute(self, order: JSON) -> tuple[JSON | None, JSON | None]:
        """Fill the new order now if it can; market orders that cannot are canceled with the reason."""
        name = order["instrument"]
        if name in self.halted:  # a market order cannot fill; others rest until the market reopens
            return (None, self._cancel(order, "MARKET_HALTED")) if order["type"] == "MARKET" else (None, None)
        if not self._marketable(order):
            return None, None
        units = units_of(order)
        margin_problem = self._margin_problem(name, units)
        if margin_problem:
            return None, self._cancel(order, margin_problem)
        if self.partial is not None and order.get("tradeClose") is None:
            step = q(self.instruments[name]["tradeUnitsPrecision"])
            part = (abs(units) * self.partial).quantize(step, ROUND_DOWN)
            if 0 < part < abs(units):
                return self._fill(order, part if units > 0 else -part), None
        return self._fill(order, units), None

    def _margin_problem(self, name: str, units: Decimal) -> str:
        net = sum(
            (Decimal(t["currentUnits"]) for t in self.trades.values() if t["instrument"] == name), Decimal(0)
        )
        if abs(net + units) <= abs(net):
            return ""  # reduces the position
        ask = self.price(name)[1]
        need = self._home(abs(units) * ask * Decimal(self.instruments[name]["marginRate"]), name)
        return "INSUFFICIENT_MARGIN" if need > self.summary()["marginAvailable_d"] else ""

    def cancel_order(self, spec: str) -> Reply:
        order = self.find_order(spec)
        if order is None or order["state"] != "PENDING":
            reject = None
            if order is not None:
                self._begin()
                reject = self._tx(
                    "ORDER_CANCEL_REJECT",
                    orderID=order["id"],
                    rejectReason="ORDER_DOESNT_EXIST",
                    clientOrderID=(order.get("clientExtensions") or {}).get("id"),
                )
            return self._reply(
                404,
                orderCancelRejectTransaction=reject,
                errorCode="ORDER_DOESNT_EXIST",
                errorMessage="The Order specified does not exist",
            )
        self._begin()
        return self._reply(200, orderCancelTransaction=self._cancel(order, "CLIENT_REQUEST"))

    def replace_order(self, spec: str, req: Any) -> Reply:
        order = self.find_order(spec)
        if order is None or order["state"] != "PENDING":
            return self._reply(
                404, errorCode="ORDER_DOESNT_EXIST", errorMessage="The Order specified does not exist"
            )
        return self.create_order(req, replaces=order)

    def fill_remaining(self, client_order_id: str) -> JSON | None:
        """Test control: fill what is left of a partially filled order now, at the current price."""
        order = self.find_order(f"@{client_order_id}")
        if order is None or order["state"] != "PENDING":
            return None
        self._begin()
        fill = self._fill(order, units_of(order))
        self._reply(200)
        return fill

    def on_price(self, name: str) -> None:
        """After a price change: fill the pending orders it crosses (none while the market is halted)."""
        if name in self.halted:
            return
        for order in list(self.orders.values()):
            if order["state"] != "PENDING" or order["instrument"] != name or order["type"] == "MARKET":
                continue
            if self._marketable(order):
                self._begin()
                trade = order.get("tradeID")
                if trade:
                    self._fill(order, -Decimal(self.trades[trade]["currentUnits"]), close_trade=trade)
                else:
                    self._fill(order, units_of(order))
                self._reply(200)

    # ---- trades and positions -------------------------------------------------------------------------------
    def find_trade(self, spec: str) -> JSON | None:
        if not spec.startswith("@"):
            return self.trades.get(spec)
        return next(
            (t for t in self.trades.values() if (t.get("clientExtensions") or {}).get("id") == spec[1:]), None
        )

    def close_trade(self, spec: str, req: Any) -> Reply:
        trade = self.find_trade(spec)
        if trade is None:
            return self._reply(
                404, errorCode="NO_SUCH_TRADE", errorMessage="The Trade specified does not exist"
            )
        wanted = (req if isinstance(req, dict) else {}).get("units", "ALL")
        cur = Decimal(trade["currentUnits"])
        amount = abs(cur) if wanted == "ALL" else decimal_or_none(wanted)
        if amount is None or not 0 < amount <= abs(cur):
            return self._reply(400, errorMessage="Invalid value specified for 'units'")
        name = trade["instrument"]
        client = (trade.get("clientExtensions") or {}).get("id")
        self._begin()
        req = {
            "type": "MARKET",
            "instrument": name,
            "units": str(-amount if cur > 0 else amount),
            "timeInForce": "FOK",
            "positionFill": "REDUCE_ONLY",
            "tradeClose": {"tradeID": trade["id"], "clientTradeID": client, "units": wanted},
        }
        create = self._create(req, None, "TRADE_CLOSE")
        order = self.orders[create["id"]]
        if name in self.halted:
            return self._reply(
                200,
                orderCreateTransaction=create,
                orderCancelTransaction=self._cancel(order, "MARKET_HALTED"),
            )
        fill = self._fill(order, units_of(order), close_trade=trade["id"])
        return self._reply(200, orderCreateTransaction=create, orderFillTransaction=fill)

    def close_position(self, name: str, req: Any) -> Reply:
        if name not in self.instruments:
            return self._reply(400, errorMessage="Invalid value specified for 'instrument'")
        req = req if isinstance(req, dict) else {}
        plan = []
        for side, sign in (("long", 1), ("short", -1)):
            wanted = str(req.get(f"{side}Units", "ALL"))
            if wanted == "NONE":
                continue
            held = sum(
                (
                    Decimal(t["currentUnits"])
                    for t in self.trades.values()
                    if t["instrument"] == name and Decimal(t["currentUnits"]) * sign > 0
                ),
                Decimal(0),
            )
            amount = abs(held) if wanted == "ALL" else decimal_or_none(wanted)
            closeout = {f"{side}PositionCloseout": {"instrument": name, "units": wanted}}
            if held == 0 or amount is None or not 0 < amount <= abs(held):
                self._begin()
                tx = self._tx(
                    "MARKET_ORDER_REJECT",
                    instrument=name,
                    timeInForce="FOK",
                    positionFill="REDUCE_ONLY",
                    reason="POSITION_CLOSEOUT",
                    rejectReason="CLOSEOUT_POSITION_DOESNT_EXIST",
                    **closeout,
                )
                return self._reply(
                    400,
                    **{f"{side}OrderRejectTransaction": tx},
                    errorCode="CLOSEOUT_POSITION_DOESNT_EXIST",
                    errorMessage="The Position requested to be closed out does not exist",
                )
            plan.append((side, -sign * amount, closeout))
        self._begin()
        body: dict[str, Any] = {}
        for side, units, closeout in plan:
            req_ = {
                "type": "MARKET",
                "instrument": name,
                "units": str(units),
                "timeInForce": "FOK",
                "positionFill": "REDUCE_ONLY",
                **closeout,
            }
            create = self._create(req_, None, "POSITION_CLOSEOUT")
            order = self.orders[create["id"]]
            body[f"{side}OrderCreateTransaction"] = create
            if name in self.halted:
                body[f"{side}OrderCancelTransaction"] = self._cancel(order, "MARKET_HALTED")
            else:
                body[f"{side}OrderFillTransaction"] = self._fill(order, units)
        return self._reply(200, **body)
