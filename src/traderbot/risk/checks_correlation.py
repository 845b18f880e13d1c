"""The correlation cap: no more than N open positions that are, in effect, the same bet.

Two positions are "the same bet" when the rolling correlation of their pairs' bar log returns, signed by the
two directions (long EURUSD and short USDCHF count as one bet), exceeds the threshold. Returns come from each
pair's primary bar series, aligned on bar close times, over the last `lookback_bars` closed bars only: no
look-ahead. A correlation is computed once per pair of series per new bar and reused for orders in between.
"""

from __future__ import annotations

import numpy as np

from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.config_sections import CorrelationConfig
from traderbot.risk.reasons import DenyReason, deny


class CorrelationCheck:
    def __init__(self, cache: Cache, portfolio: Portfolio, config: CorrelationConfig) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.config = config
        self.threshold = float(config.threshold)
        self._memo: dict[tuple[str, str, int, int], float] = {}
        self._logret: dict[int, np.ndarray] = {}

    def correlation(self, a: str, b: str) -> float:
        """Correlation of the two pairs' log returns over their last common closed bars (NaN if too few)."""
        c = self.cache
        ia, ib = c.primary[a], c.primary[b]
        na, nb = c.visible[ia], c.visible[ib]
        key = (a, b, na, nb)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        value = self._compute(ia, na, ib, nb)
        if len(self._memo) > 50_000:
            self._memo.clear()
        self._memo[key] = value
        return value

    def _returns(self, idx: int) -> np.ndarray:
        r = self._logret.get(idx)
        if r is None:  # of the whole stored series; only the visible prefix is ever read
            close = np.asarray(self.cache.series[idx].close, dtype=np.float64)
            r = self._logret[idx] = np.diff(np.log(close), prepend=np.nan)
        return r

    def _compute(self, ia: int, na: int, ib: int, nb: int) -> float:
        n = self.config.lookback_bars
        sa, sb = self.cache.series[ia], self.cache.series[ib]
        ta, tb = sa.ts_close[max(0, na - 4 * n) : na], sb.ts_close[max(0, nb - 4 * n) : nb]
        common, pa, pb = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
        if len(common) < 10:
            return float("nan")
        pa, pb = pa[-n:] + max(0, na - 4 * n), pb[-n:] + max(0, nb - 4 * n)
        ra, rb = self._returns(ia)[pa], self._returns(ib)[pb]
        ok = np.isfinite(ra) & np.isfinite(rb)
        if ok.sum() < 10:
            return float("nan")
        ra, rb = ra[ok], rb[ok]
        sda, sdb = ra.std(), rb.std()
        if sda == 0 or sdb == 0:
            return float("nan")
        return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sda * sdb))

    def check(self, order: Order) -> str | None:
        iid = order.instrument_id
        if iid not in self.cache.primary:
            return None
        direction = 1.0 if order.side is OrderSide.BUY else -1.0
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
                f"{iid} {order.side.value} moves with {', '.join(same)} (signed correlation > "
                f"{self.config.threshold} over {self.config.lookback_bars} bars; max {self.config.max_positions} "
                "such positions)",
            )
        return None
