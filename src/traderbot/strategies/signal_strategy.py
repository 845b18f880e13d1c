"""Base for strategies driven by one signal per bar: +1 go long, -1 go short (or exit a long), 0 hold.

The same decision rule runs in the event engine (`on_bar`) and in the fast sweep path (`signals` feeds the
numba simulator), which is what makes their results identical:
- +1: close a short if any; open a long unless already long;
- -1: close a long if any; unless long-only, open a short unless already short;
- optional bracket exits from `exit_distances` (stop-loss / take-profit distances from the signal bar's close).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from traderbot.model.data import Bar
from traderbot.strategies.base import Strategy
from traderbot.strategies.params import BoolParam


class SignalStrategy(Strategy):
    long_only = BoolParam(False, doc="never open short positions")
    supports_sweep: ClassVar[bool] = True

    def signals(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray
    ) -> np.ndarray:
        """int8 signal per bar computed only from bars <= t (vectorised; used by on_bar and the sweep)."""
        raise NotImplementedError

    def exit_distances(
        self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-bar (stop-loss, take-profit) distances in price units, or None for signal-only exits."""
        return None

    def on_start(self) -> None:
        d = self.data
        self._sig = self.I(self.signals, d.open, d.high, d.low, d.close, d.volume, name=f"{self.name}.signal")
        self._cursor = self._sig.cursor()  # the same causal view, read without per-bar method calls
        dist = self._exit_view()
        self._sl: Any
        self._tp: Any
        self._sl, self._tp = dist if dist is not None else (None, None)

    def on_params_changed(self) -> None:
        """New parameters: the signal (and exit) views are computed again, causally as at the start (nothing to
        do before the strategy has started: on_start will compute them)."""
        if hasattr(self, "_sig"):
            self.on_start()

    def _exit_view(self) -> Any:
        d = self.data
        probe = self.exit_distances(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1))
        if probe is None:
            return None
        return self.I(self.exit_distances, d.open, d.high, d.low, d.close, name=f"{self.name}.exits")

    def on_bar(self, bar: Bar) -> None:
        cur = self._cursor
        sig = cur[0][cur[1][cur[2]] - 1] if cur is not None else self._sig[-1]
        if sig == 0:
            return
        pos = self.position()
        if sig > 0:
            if pos < 0:
                self.close()
            if pos <= 0:
                self.buy(**self._bracket(bar, 1))
        else:
            if pos > 0:
                self.close()
            if not self.long_only and pos >= 0:
                self.sell(**self._bracket(bar, -1))

    def _bracket(self, bar: Bar, direction: int) -> dict[str, float]:
        if self._sl is None:
            return {}
        sl, tp = float(self._sl[-1]), float(self._tp[-1])
        inst = self.ctx.k.cache.instruments[self.instrument_id]
        out: dict[str, float] = {}
        if sl > 0:
            out["sl"] = float(inst.round_price(_d(bar.close - direction * sl)))
        if tp > 0:
            out["tp"] = float(inst.round_price(_d(bar.close + direction * tp)))
        return out


def _d(x: float) -> Any:
    from decimal import Decimal

    return Decimal(repr(x))
