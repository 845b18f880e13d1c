"""Split inputs into runs of finite values; every indicator restarts its warm-up after a missing value."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@njit(cache=True)
def finite_runs(valid: BoolArray) -> tuple[IntArray, IntArray]:
    """Return (starts, ends) of the maximal runs where `valid` is True, ends exclusive; O(n)."""
    n = valid.size
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    count = 0
    i = 0
    while i < n:
        if valid[i]:
            j = i
            while j < n and valid[j]:
                j += 1
            starts[count] = i
            ends[count] = j
            count += 1
            i = j
        else:
            i += 1
    return starts[:count], ends[:count]


def runs_of(*arrays: NDArray[np.float64]) -> tuple[IntArray, IntArray]:
    """Runs of bars where every input array is finite (NaN and +/-inf count as missing)."""
    valid = np.isfinite(arrays[0])
    for array in arrays[1:]:
        valid &= np.isfinite(array)
    return finite_runs(valid)
