"""The correlation cap: no more than N open positions that are, in effect, the same bet.

Two positions are "the same bet" when the rolling correlation of their pairs' bar log returns, signed by the
two directions (long EURUSD and short USDCHF count as one bet), exceeds the threshold. Returns come from each
pair's primary bar series, aligned on bar close times, over the last `lookback_bars` common closed bars only:
no look-ahead. For speed, the two aligned return series get prefix sums (of a, b, a^2, b^2, ab) once; a
correlation over any window is then O(1): (n Sab - Sa Sb) / sqrt((n Saa - Sa^2)(n Sbb - Sb^2)).
"""

from __future__ import annotations

import math

import numpy as np

from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.config_sections import CorrelationConfig
from traderbot.risk.reasons import DenyReason, deny


class _Aligned:
    """Two series' returns on their common bar close times, with prefix sums for O(1) window statistics."""

    __slots__ = ("ia", "ib", "sums")

    def __init__(self, ta: np.ndarray, ca: np.ndarray, tb: np.ndarray, cb: np.ndarray) -> None:
        _, pa, pb = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
        # return at common point k: log(close[k] / close[k-1]) over consecutive common points
        ra = np.diff(np.log(ca[pa]), prepend=np.nan)
        rb = np.diff(np.log(cb[pb]), prepend=np.nan)
        ok = np.isfinite(ra) & np.isfinite(rb)
        ra, rb = np.where(ok, ra, 0.0), np.where(ok, rb, 0.0)
        cols = np.stack([ok.astype(np.float64), ra, rb, ra * ra, rb * rb, ra * rb])
        self.sums = np.concatenate([np.zeros((6, 1)), np.cumsum(cols, axis=1)], axis=1)
        self.ia, self.ib = pa, pb  # positions in each series of the common points

    def correlation(self, na: int, nb: int, lookback: int) -> float:
        """Over the last `lookback` common points whose bars are visible (index < na in a and < nb in b)."""
        k = min(int(self.ia.searchsorted(na)), int(self.ib.searchsorted(nb)))
        lo = max(0, k - lookback)
        n, sa, sb, saa, sbb, sab = (self.sums[:, k] - self.sums[:, lo]).tolist()
        if n < 10:
            return float("nan")
        va, vb = n * saa - sa * sa, n * sbb - sb * sb
        if va <= 0 or vb <= 0:
            return float("nan")
        return (n * sab - sa * sb) / math.sqrt(va * vb)


class CorrelationCheck:
    def __init__(self, cache: Cache, portfolio: Portfolio, config: CorrelationConfig) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.config = config
        self.threshold = float(config.threshold)
        self._aligned: dict[tuple[int, int], _Aligned] = {}
        self._memo: dict[tuple[int, int, int, int], float] = {}  # per pair of series and visible bars
        self._stamp: tuple[int, int] = (-1, -1)  # (closed bars, portfolio version) the decisions hold for
        self._decided: dict[tuple[str, OrderSide], str | None] = {}

    def correlation(self, a: str, b: str) -> float:
        """Correlation of the two pairs' log returns over their last common closed bars (NaN if too few)."""
        c = self.cache
        ia, ib = c.primary[a], c.primary[b]
        na, nb = c.visible[ia], c.visible[ib]
        key = (ia, ib, na, nb)
        value = self._memo.get(key)
        if value is None:
            al = self._aligned.get((ia, ib))
            if al is None:
                sa, sb = c.series[ia], c.series[ib]
                al = self._aligned[(ia, ib)] = _Aligned(sa.ts_close, sa.close, sb.ts_close, sb.close)
            if len(self._memo) > 100_000:
                self._memo.clear()
            value = self._memo[key] = al.correlation(na, nb, self.config.lookback_bars)
        return value

    def _decisions(self) -> dict[tuple[str, OrderSide], str | None]:
        """Decisions depend only on the pair, the side, the closed bars and the positions: they are kept until
        a bar closes or a position changes."""
        stamp = (sum(self.cache.visible), self.portfolio.version)
        if stamp != self._stamp:
            self._stamp = stamp
            self._decided.clear()
        return self._decided

    def follow(self, instrument_id: str | None, gen_before: int) -> bool:
        """One bar closed since the decisions were made at `gen_before` closed bars: only correlations with
        that pair moved, so forget its own decisions, or every decision when a position is held in it (each
        pair's decision weighs its correlation with the held ones). False when the decisions were made before
        an earlier bar."""
        version = self.portfolio.version
        if self._stamp[0] != gen_before:
            return False
        if self._stamp[1] != version:  # positions changed too: every decision goes, as at the next order
            self._decided.clear()
        self._stamp = (sum(self.cache.visible), version)
        if instrument_id is not None:
            if self.portfolio._net.get(instrument_id):
                self._decided.clear()
            else:
                self._decided.pop((instrument_id, OrderSide.BUY), None)
                self._decided.pop((instrument_id, OrderSide.SELL), None)
        return True

    def prepare(self) -> None:
        """Decide now, for every pair and side, what `check` would decide until the next bar or fill."""
        decided = self._decisions()
        for iid in self.cache.primary:
            for side in (OrderSide.BUY, OrderSide.SELL):
                if (iid, side) not in decided:
                    decided[(iid, side)] = self._decide(iid, side)

    def check(self, order: Order) -> str | None:
        decided = self._decisions()
        key = (order.instrument_id, order.side)
        if key in decided:
            return decided[key]
        reason = decided[key] = self._decide(*key)
        return reason

    def _decide(self, iid: str, side: OrderSide) -> str | None:
        if iid not in self.cache.primary:
            return None
        direction = 1.0 if side is OrderSide.BUY else -1.0
        same: list[str] = []
        for other, net in self.portfolio._net.items():
            if not net or other == iid or other not in self.cache.primary:
                continue
            rho = self.correlation(iid, other) * direction * (1.0 if net > 0 else -1.0)
            if rho > self.threshold:
                same.append(f"{other} {'long' if net > 0 else 'short'} {rho:.2f}")
        if len(same) + 1 > self.config.max_positions:
            return deny(
                DenyReason.CORRELATION_LIMIT,
                f"{iid} {side.value} moves with {', '.join(same)} (signed correlation > "
                f"{self.config.threshold} over {self.config.lookback_bars} bars; max {self.config.max_positions} "
                "such positions)",
            )
        return None
