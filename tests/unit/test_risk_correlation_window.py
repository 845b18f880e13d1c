"""The correlation cap's window arithmetic: the walked index and the prefix sums against plain NumPy."""

from __future__ import annotations

from bisect import bisect_left

import numpy as np

from traderbot.risk.checks_correlation import _Aligned


def _series(rng: np.random.Generator, n: int, drop: float) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(n, dtype=np.int64) * 60
    keep = rng.random(n) > drop  # missing bars: the two series share only some close times
    close = np.exp(np.cumsum(rng.normal(0, 0.001, n))) * 1.1
    return ts[keep], close[keep]


def test_the_walked_index_always_equals_the_bisected_one() -> None:
    rng = np.random.default_rng(7)
    ta, ca = _series(rng, 3_000, 0.1)
    tb, cb = _series(rng, 3_000, 0.2)
    al = _Aligned(ta, ca, tb, cb)
    ia, ib = list(al.ia), list(al.ib)
    na, nb = 0, 0
    for step in range(5_000):  # mostly one bar at a time, sometimes jumps back and forth
        if step % 97 == 0:
            na, nb = int(rng.integers(0, len(ta) + 1)), int(rng.integers(0, len(tb) + 1))
        else:
            na, nb = min(len(ta), na + int(rng.integers(0, 2))), min(len(tb), nb + int(rng.integers(0, 2)))
        assert al._common(na, nb) == min(bisect_left(ia, na), bisect_left(ib, nb)), (step, na, nb)


def test_the_window_correlation_equals_numpy_on_the_visible_common_bars() -> None:
    rng = np.random.default_rng(11)
    ta, ca = _series(rng, 2_000, 0.05)
    tb, cb = _series(rng, 2_000, 0.05)
    al = _Aligned(ta, ca, tb, cb)
    for na, nb in ((500, 520), (1_500, 1_400), (len(ta), len(tb)), (30, 40)):
        _, pa, pb = np.intersect1d(ta[:na], tb[:nb], assume_unique=True, return_indices=True)
        ra, rb = np.diff(np.log(ca[pa])), np.diff(np.log(cb[pb]))
        expected = float(np.corrcoef(ra[-100:], rb[-100:])[0, 1])
        assert abs(al.correlation(na, nb, 100) - expected) < 1e-9, (na, nb)
