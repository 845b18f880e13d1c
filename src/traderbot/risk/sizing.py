"""Position sizing for orders sent without a quantity.

`all_in` invests the whole equity (resolved at the fill price, commission included), `fraction:F` a fraction
of it, `units:N` a fixed quantity, and `risk:PCT` risks PCT % of equity between entry and stop: with a stop
loss on the order its distance is used, otherwise 2 x ATR(14) of the pair's bars (documented default).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from traderbot.errors import UserError

VALID = "all_in, fraction:F (0 < F <= 1), units:N, risk:PCT (percent of equity per trade)"


@dataclass(frozen=True, slots=True)
class Sizing:
    method: str  # all_in | fraction | units | risk
    value: Decimal = Decimal(1)

    @staticmethod
    def parse(text: str) -> Sizing:
        t = text.strip().lower()
        if t in {"all_in", "all-in", "allin"}:
            return Sizing("fraction", Decimal(1))
        method, _, raw = t.partition(":")
        try:
            value = Decimal(raw)
        except Exception:
            raise UserError(f"sizing {text!r} is not valid: use {VALID}") from None
        if method not in {"fraction", "units", "risk"} or not value.is_finite() or value <= 0:
            raise UserError(f"sizing {text!r} is not valid: use {VALID}")
        if method == "fraction" and value > 1:
            raise UserError(f"sizing {text!r} is not valid: a fraction must be in (0, 1]")
        if method == "risk" and value > 100:
            raise UserError(f"sizing {text!r} is not valid: risk is a percent of equity in (0, 100]")
        return Sizing(method, value)

    def describe(self) -> str:
        return "all_in" if self.method == "fraction" and self.value == 1 else f"{self.method}:{self.value}"


def atr_distance(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> float:
    """Mean true range of the last `period` closed bars (NaN with fewer than two bars)."""
    n = len(close)
    if n < 2:
        return float("nan")
    lo = max(1, n - period)
    h, l_, pc = high[lo:n], low[lo:n], close[lo - 1 : n - 1]
    tr = np.maximum(h - l_, np.maximum(np.abs(h - pc), np.abs(l_ - pc)))
    return float(tr.mean())
