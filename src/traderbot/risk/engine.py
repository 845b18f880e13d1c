"""The pre-trade risk engine: a chain of small checks; the first denial stops the chain.

Every order in every mode passes here before the execution engine persists and sends it. A check returns None
(pass) or a denial text that starts with a DenyReason code and gives its context, e.g.
`NOTIONAL_EXCEEDS_MAX: max=100000 USD, order=150000 USD`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.reasons import DenyReason
from traderbot.risk.states import SYSTEM, TradingState, TradingStates

Check = Callable[[Order], str | None]


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None  # account currency


def _deny(reason: DenyReason, context: str) -> str:
    return f"{reason.code}: {context}"


class RiskEngine:
    """Runs the check chain; `state` is the system trading state (ACTIVE, REDUCING, HALTED)."""

    def __init__(
        self,
        cache: Cache,
        portfolio: Portfolio,
        limits: RiskLimits | None = None,
        states: TradingStates | None = None,
    ) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.limits = limits or RiskLimits()
        self.states = states or TradingStates(now_ns=lambda: cache.now_ns)
        self.reconciling: str | None = None  # why orders wait (set by reconciliation until it has finished)
        self._seen_ids: set[str] = set()
        self.checks: list[Check] = [
            self._check_state,
            self._check_duplicate_id,
            self._check_instrument,
            self._check_quantity,
            self._check_prices,
            self._check_reduce_only,
            self._check_limits,
        ]
        self.denied = 0

    @property
    def state(self) -> TradingState:
        """The system-wide trading state (strategies and pairs have their own in `states`)."""
        return self.states.get(SYSTEM)

    @state.setter
    def state(self, value: TradingState) -> None:
        self.states.set(SYSTEM, value, actor="system", reason="set in code")

    def check(self, order: Order) -> str | None:
        for chk in self.checks:
            reason = chk(order)
            if reason is not None:
                self.denied += 1
                return reason
        return None

    # ---- checks --------------------------------------------------------------------------------------------
    def _reduces(self, order: Order) -> bool:
        """True when the order is on the closing side and cannot reverse the position through flat."""
        net = self.portfolio.net_quantity(order.instrument_id)
        closing_side = (net > 0 and order.side is OrderSide.SELL) or (net < 0 and order.side is OrderSide.BUY)
        if not closing_side:
            return False
        return order.reduce_only or (order.equity_fraction is None and order.quantity <= abs(net))

    def _check_state(self, order: Order) -> str | None:
        if self.reconciling is not None and not (order.parent_id and self._reduces(order)):
            # a filled entry's protective exits still go out while reconciling: never leave a position naked
            return _deny(DenyReason.RECONCILING, self.reconciling)
        if not self.states.restricted:
            return None
        state, scope = self.states.effective(order.strategy_id, order.instrument_id)
        if state is TradingState.HALTED and not (
            (order.parent_id and self._reduces(order))
            or (order.tag == "kill_switch" and self._reduces(order))
        ):
            # a filled entry's own protective exits (and the kill switch's flattening) still go out
            return _deny(DenyReason.TRADING_HALTED, f"state={state.value}, scope={scope}")
        if state is TradingState.REDUCING and not (order.reduce_only or self._reduces(order)):
            return _deny(DenyReason.REDUCE_ONLY_STATE, f"state={state.value}, scope={scope}")
        return None

    def _check_duplicate_id(self, order: Order) -> str | None:
        if order.client_order_id in self._seen_ids:
            return _deny(DenyReason.DUPLICATE_CLIENT_ORDER_ID, f"client_order_id={order.client_order_id}")
        self._seen_ids.add(order.client_order_id)
        return None

    def _check_instrument(self, order: Order) -> str | None:
        if order.instrument_id not in self.cache.instruments:
            return _deny(DenyReason.UNKNOWN_INSTRUMENT, f"instrument={order.instrument_id}")
        return None

    def _check_quantity(self, order: Order) -> str | None:
        q = order.quantity
        if order.equity_fraction is not None:
            f = order.equity_fraction
            if not f.is_finite() or f <= 0:
                return _deny(DenyReason.INVALID_QUANTITY, f"equity_fraction={f}")
            return None
        if not q.is_finite() or q <= 0:
            return _deny(DenyReason.INVALID_QUANTITY, f"quantity={q}")
        inst = self.cache.instruments[order.instrument_id]
        if inst.lot_size > 0 and q % inst.lot_size != 0:
            return _deny(DenyReason.QUANTITY_PRECISION, f"lot_size={inst.lot_size}, quantity={q}")
        if q < inst.min_quantity:
            return _deny(DenyReason.BELOW_MIN_QUANTITY, f"min={inst.min_quantity}, quantity={q}")
        return None

    def _check_prices(self, order: Order) -> str | None:
        if order.price is None and order.trigger_price is None:
            return None
        inst = self.cache.instruments[order.instrument_id]
        for label, px in (("price", order.price), ("trigger_price", order.trigger_price)):
            if px is None:
                continue
            if not px.is_finite() or px <= 0:
                return _deny(DenyReason.INVALID_PRICE, f"{label}={px}")
            if px % inst.tick_size != 0:
                return _deny(DenyReason.PRICE_PRECISION, f"tick_size={inst.tick_size}, {label}={px}")
        return None

    def _check_reduce_only(self, order: Order) -> str | None:
        if not order.reduce_only:
            return None
        net = self.portfolio.net_quantity(order.instrument_id)
        if not self._reduces(order) or (order.equity_fraction is None and order.quantity > abs(net)):
            return _deny(
                DenyReason.REDUCE_ONLY_VIOLATION, f"position={net}, order={order.side.value} {order.quantity}"
            )
        return None

    def _check_limits(self, order: Order) -> str | None:
        lim = self.limits
        if lim.max_order_quantity is None and lim.max_order_notional is None:
            return None
        if lim.max_order_quantity is not None and order.quantity > lim.max_order_quantity:
            return _deny(
                DenyReason.QUANTITY_EXCEEDS_MAX, f"max={lim.max_order_quantity}, order={order.quantity}"
            )
        if lim.max_order_notional is not None:
            inst = self.cache.instruments[order.instrument_id]
            px = order.price or order.trigger_price or self.cache.last_price(order.instrument_id)
            if px is not None:
                notional = self.portfolio.to_account(order.quantity * px * inst.multiplier, inst.quote)
                if order.equity_fraction is not None:
                    notional = self.portfolio.equity() * order.equity_fraction
                if notional > lim.max_order_notional:
                    ccy = self.portfolio.currency
                    return _deny(
                        DenyReason.NOTIONAL_EXCEEDS_MAX,
                        f"max={lim.max_order_notional} {ccy}, order={notional:.2f} {ccy}",
                    )
        return None
