"""Order-flow checks: the duplicate-order window, submit and cancel rate limits, the repeated-execution throttle.

Times are the kernel's clock (bar time in a backtest, wall time live), so a backtest meets the same limits as
live trading. Protective exits of a filled entry and the kill switch's orders are never throttled.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.risk.config_sections import FlowConfig
from traderbot.risk.reasons import DenyReason, deny

_NS = 1_000_000_000


def _ns(seconds: Decimal) -> int:
    return int(seconds * _NS)


class FlowChecks:
    def __init__(self, config: FlowConfig) -> None:
        self.config = config
        self._dup_ns = _ns(config.duplicate_window_s) if config.duplicate_window_s else 0
        self._rate_ns = _ns(config.rate_window_s)
        self._repeat_ns = _ns(config.repeat_window_s)
        self._recent: dict[
            tuple[object, ...], tuple[int, tuple[object, ...]]
        ] = {}  # signature -> (time, exact)
        self._recent_order: deque[tuple[int, tuple[object, ...]]] = deque()  # (time, signature), oldest first
        self._submits: deque[int] = deque()
        self._cancels: deque[int] = deque()
        self._repeats: dict[tuple[str, str, OrderSide], deque[int]] = {}

    def expire(self, now: int) -> None:
        """Drop the entries that have left their windows by `now` (each check also drops those it meets), so
        the first order after the clock moves does not pay for it."""
        rate = self._rate_ns
        for q in (self._submits, self._cancels):
            while q and now - q[0] >= rate:
                q.popleft()
        repeat = self._repeat_ns
        for q in self._repeats.values():
            while q and now - q[0] >= repeat:
                q.popleft()
        self._forget(now)

    def _forget(self, now: int) -> None:
        """Forget the signatures last seen a whole duplicate window ago (oldest first: O(1) per order)."""
        order, recent, window = self._recent_order, self._recent, self._dup_ns
        while order and now - order[0][0] >= window:
            t, key = order.popleft()
            seen = recent.get(key)
            if seen is not None and seen[0] == t:
                del recent[key]

    def check_duplicate(self, order: Order, now: int) -> str | None:
        """Same strategy, pair, side, type, quantity and prices within the window. The signature is looked up
        by the values as floats (hashing a Decimal costs several times more) and confirmed exactly."""
        q, fraction, px, trigger = order.quantity, order.equity_fraction, order.price, order.trigger_price
        exact = (q, fraction, px, trigger)
        key = (order.strategy_id, order.instrument_id, order.side, order.type, float(q),
               None if fraction is None else float(fraction), None if px is None else float(px),
               None if trigger is None else float(trigger))  # fmt: skip
        recent = self._recent
        seen = recent.get(key)
        if seen is not None and now - seen[0] < self._dup_ns and seen[1] == exact:
            age = (now - seen[0]) / _NS
            return deny(
                DenyReason.DUPLICATE_ORDER,
                f"same {order.side.value} {order.quantity} {order.instrument_id} {order.type.value} "
                f"{age:g} s ago, window={self.config.duplicate_window_s} s",
            )
        recent[key] = (now, exact)
        self._recent_order.append((now, key))
        if now - self._recent_order[0][0] >= self._dup_ns:
            self._forget(now)
        return None

    def check_submit_rate(self, order: Order, now: int) -> str | None:
        limit = self.config.max_submits
        assert limit is not None
        q = self._submits
        while q and now - q[0] >= self._rate_ns:
            q.popleft()
        if len(q) >= limit:
            return deny(DenyReason.SUBMIT_RATE_LIMIT, f"max={limit} per {self.config.rate_window_s} s")
        q.append(now)
        return None

    def check_cancel_rate(self, now: int) -> str | None:
        limit = self.config.max_cancels
        if limit is None:
            return None
        q = self._cancels
        while q and now - q[0] >= self._rate_ns:
            q.popleft()
        if len(q) >= limit:
            return deny(DenyReason.CANCEL_RATE_LIMIT, f"max={limit} per {self.config.rate_window_s} s")
        q.append(now)
        return None

    def check_repeats(self, order: Order, now: int) -> str | None:
        limit = self.config.max_repeats
        assert limit is not None
        key = (order.strategy_id, order.instrument_id, order.side)
        q = self._repeats.get(key)
        if q is None:
            q = self._repeats[key] = deque()
        while q and now - q[0] >= self._repeat_ns:
            q.popleft()
        if len(q) >= limit:
            return deny(
                DenyReason.REPEATED_EXECUTION,
                f"{order.strategy_id} {order.side.value} {order.instrument_id}: {len(q)} orders in the last "
                f"{self.config.repeat_window_s} s, max={limit}",
            )
        q.append(now)
        return None
