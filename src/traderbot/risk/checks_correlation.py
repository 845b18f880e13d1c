"""The correlation cap: no more than N open positions that are, in effect, the same bet.

Two positions are "the same bet" when the rolling correlation of their pairs' bar log returns, signed by the
two directions (long EURUSD and short USDCHF count as one bet), exceeds the threshold. Returns come from each
pair's primary bar series, aligned on bar close times, over the last `lookback_bars` common closed bars only:
no look-ahead. For speed, the two aligned return series get prefix sums (of a, b, a^2, b^2, ab) once; a
correlation over any window is then O(1): (n Sab - Sa Sb) / sqrt((n Saa - Sa^2)(n Sbb - Sb^2)).
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from traderbot.kernel.cache import Cache
from traderbot.model.enums import OrderSide
from traderbot.model.order import Order
from traderbot.portfolio.portfolio import Portfolio
from traderbot.risk.config_sections import CorrelationConfig
from traderbot.risk.reasons import DenyReason, deny


class _Aligned:
    """Two series' returns on their common bar close times, with prefix sums for O(1) window statistics."""

    __slots__ = ("ia", "ib", "k", "memo", "sums")

    def __init__(self, ta: np.ndarray, ca: np.ndarray, tb: np.ndarray, cb: np.ndarray) -> None:
        _, pa, pb = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
        # return at common point k: log(close[k] / close[k-1]) over consecutive common points
        ra = np.diff(np.log(ca[pa]), prepend=np.nan)
        rb = np.diff(np.log(cb[pb]), prepend=np.nan)
        ok = np.isfinite(ra) & np.isfinite(rb)
        ra, rb = np.where(ok, ra, 0.0), np.where(ok, rb, 0.0)
        cols = (ok.astype(np.float64), ra, rb, ra * ra, rb * rb, ra * rb)
        # read one value at a time through memoryviews: a Python float each, without NumPy's per-call cost
        self.sums = tuple(np.concatenate([[0.0], np.cumsum(c)]).data for c in cols)
        self.ia = np.ascontiguousarray(pa, dtype=np.int64).data  # positions of the common points
        self.ib = np.ascontiguousarray(pb, dtype=np.int64).data
        self.k = 0  # the last answer of `_common`
        # the last answer: (na, nb, common points, lookback, correlation)
        self.memo: tuple[int, int, int, int, float] = (-1, -1, -1, -1, 0.0)

    def _common(self, na: int, nb: int) -> int:
        """How many common points have both bars visible (index < na in a, < nb in b): a prefix, since both
        index lists increase. Walked from the last answer (bars arrive one at a time), else bisected."""
        ia, ib, k, n = self.ia, self.ib, self.k, len(self.ia)
        for _ in range(4):
            if k < n and ia[k] < na and ib[k] < nb:
                k += 1
            elif k > 0 and (ia[k - 1] >= na or ib[k - 1] >= nb):
                k -= 1
            else:
                self.k = k
                return k
        k = self.k = min(bisect_left(ia, na), bisect_left(ib, nb))
        return k

    def correlation(self, na: int, nb: int, lookback: int) -> float:
        """Over the last `lookback` common points whose bars are visible (index < na in a and < nb in b); the
        value only moves when a common point becomes visible, so the last one is kept until then."""
        memo = self.memo
        if memo[0] == na and memo[1] == nb and memo[3] == lookback:
            return memo[4]
        k = self._common(na, nb)
        if memo[2] == k and memo[3] == lookback:
            self.memo = (na, nb, k, lookback, memo[4])
            return memo[4]
        lo = max(0, k - lookback)
        s_n, s_a, s_b, s_aa, s_bb, s_ab = self.sums
        n = s_n[k] - s_n[lo]
        value = float("nan")
        if n >= 10:
            sa, sb = s_a[k] - s_a[lo], s_b[k] - s_b[lo]
            va, vb = n * (s_aa[k] - s_aa[lo]) - sa * sa, n * (s_bb[k] - s_bb[lo]) - sb * sb
            if va > 0 and vb > 0:
                value = (n * (s_ab[k] - s_ab[lo]) - sa * sb) / math.sqrt(va * vb)
        self.memo = (na, nb, k, lookback, value)
        return value


class CorrelationCheck:
    def __init__(self, cache: Cache, portfolio: Portfolio, config: CorrelationConfig) -> None:
        self.cache = cache
        self.portfolio = portfolio
        self.config = config
        self.threshold = float(config.threshold)
        self._aligned: dict[tuple[int, int], _Aligned] = {}
        self._stamp: tuple[int, int] = (-1, -1)  # (closed bars, portfolio version) the decisions hold for
        self._decided: dict[tuple[str, OrderSide], str | None] = {}
        self._used: dict[
            tuple[str, str], float
        ] = {}  # (pair, held pair) -> the correlation its decision used

    def correlation(self, a: str, b: str) -> float:
        """Correlation of the two pairs' log returns over their last common closed bars (NaN if too few)."""
        c = self.cache
        ia, ib = c.primary[a], c.primary[b]
        al = self._aligned.get((ia, ib))
        if al is None:
            sa, sb = c.series[ia], c.series[ib]
            al = self._aligned[(ia, ib)] = _Aligned(sa.ts_close, sa.close, sb.ts_close, sb.close)
        return al.correlation(c.visible[ia], c.visible[ib], self.config.lookback_bars)

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
        that pair moved, so forget its own decisions and, when a position is held in it, those of the pairs
        whose correlation with it moved (each pair's decision weighs its correlation with the held ones; one
        moves only when a bar both pairs share becomes visible). False when the decisions were made before an
        earlier bar."""
        version = self.portfolio.version
        if self._stamp[0] != gen_before:
            return False
        if self._stamp[1] != version:  # positions changed too: every decision goes, as at the next order
            self._decided.clear()
        self._stamp = (sum(self.cache.visible), version)
        if instrument_id is not None:
            decided = self._decided
            decided.pop((instrument_id, OrderSide.BUY), None)
            decided.pop((instrument_id, OrderSide.SELL), None)
            if self.portfolio._net.get(instrument_id):  # a held pair: the others' decisions weigh it
                used = self._used
                for iid in {k[0] for k in decided}:
                    rho, before = self.correlation(iid, instrument_id), used.get((iid, instrument_id))
                    if before is None or not (rho == before or (rho != rho and before != before)):
                        decided.pop((iid, OrderSide.BUY), None)  # it moved (NaN counts as equal to NaN)
                        decided.pop((iid, OrderSide.SELL), None)
        return True

    def prepare(self) -> None:
        """Decide now, for every pair and side, what `check` would decide until the next bar or fill."""
        decided = self._decisions()
        for iid in self.cache.primary:
            if (iid, OrderSide.BUY) not in decided or (iid, OrderSide.SELL) not in decided:
                decided[(iid, OrderSide.BUY)], decided[(iid, OrderSide.SELL)] = self._decide_both(iid)

    def check(self, order: Order) -> str | None:
        decided = self._decisions()
        key = (order.instrument_id, order.side)
        if key in decided:
            return decided[key]
        decided[(key[0], OrderSide.BUY)], decided[(key[0], OrderSide.SELL)] = self._decide_both(key[0])
        return decided[key]

    def _decide(self, iid: str, side: OrderSide) -> str | None:
        buy, sell = self._decide_both(iid)
        return buy if side is OrderSide.BUY else sell

    def _decide_both(self, iid: str) -> tuple[str | None, str | None]:
        """The decisions for a buy and a sell of `iid` (one pass over the held positions serves both)."""
        primary = self.cache.primary
        if iid not in primary:
            return None, None
        threshold = self.threshold
        same: tuple[list[str], list[str]] = ([], [])
        for other, net in self.portfolio._net.items():
            if not net or other == iid or other not in primary:
                continue
            held = 1.0 if net > 0 else -1.0
            raw = self._used[(iid, other)] = self.correlation(iid, other)  # as weighed: see `follow`
            rho = raw * held  # signed for a buy; a sell's is its opposite
            if rho > threshold:
                same[0].append(f"{other} {'long' if net > 0 else 'short'} {rho:.2f}")
            if -rho > threshold:
                same[1].append(f"{other} {'long' if net > 0 else 'short'} {-rho:.2f}")
        return self._deny(iid, OrderSide.BUY, same[0]), self._deny(iid, OrderSide.SELL, same[1])

    def _deny(self, iid: str, side: OrderSide, same: list[str]) -> str | None:
        if len(same) + 1 <= self.config.max_positions:
            return None
        return deny(
            DenyReason.CORRELATION_LIMIT,
            f"{iid} {side.value} moves with {', '.join(same)} (signed correlation > "
            f"{self.config.threshold} over {self.config.lookback_bars} bars; max {self.config.max_positions} "
            "such positions)",
        )
