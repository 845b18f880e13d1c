"""Order-flow checks: the duplicate-order window, submit and cancel rate limits, the repeated-execution throttle.

Times are the kernel's clock (bar time in a backtest, wall time live), so a backtest meets the same limits as
live trading. Protective exits of a filled entry and the kill switch's orders are never throttled.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

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
        self._recent: dict[tuple[object, ...], int] = {}  # order signature -> last time seen
        self._submits: deque[int] = deque()
        self._cancels: deque[int] = deque()
        self._repeats: dict[tuple[str, str, str], deque[int]] = {}

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
        if len(self._recent) > 10_000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < self._dup_ns}

    def check_duplicate(self, order: Order, now: int) -> str | None:
        key = (order.strategy_id, order.instrument_id, order.side, order.type, order.quantity,
               order.equity_fraction, order.price, order.trigger_price)  # fmt: skip
        recent = self._recent
        seen = len(recent)
        last = recent.setdefault(key, now)  # one hash of the key in the common case (a new signature)
        if len(recent) > seen:
            if seen > 10_000:
                self._recent = {k: t for k, t in recent.items() if now - t < self._dup_ns}
            return None
        if now - last < self._dup_ns:
            age = (now - last) / _NS
            return deny(
                DenyReason.DUPLICATE_ORDER,
                f"same {order.side.value} {order.quantity} {order.instrument_id} {order.type.value} "
                f"{age:g} s ago, window={self.config.duplicate_window_s} s",
            )
        recent[key] = now
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
        key = (order.strategy_id, order.instrument_id, order.side.value)
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
