"""Argument checks shared by the indicator wrappers: one clear ValueError sentence per bad argument."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, NDArray

MAX_PERIOD = 100_000  # TA-Lib's upper bound for every period argument.
MAX_REAL = 3e37  # TA-Lib's TA_REAL_MAX bound for real-valued options such as nbdevup.

# TA-Lib TA_MAType codes this package implements, with their names for error messages.
SUPPORTED_MA_TYPES = {0: "SMA", 1: "EMA", 2: "WMA"}
TALIB_MA_NAMES = {
    3: "DEMA",
    4: "TEMA",
    5: "TRIMA",
    6: "KAMA",
    7: "MAMA",
    8: "T3",
}

FloatArray = NDArray[np.float64]


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    """Convert any 1-D array-like to a contiguous float64 array (the kernels' input type)."""
    try:
        array = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of numbers ({exc}).") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got an array with shape {array.shape}.")
    return array


def check_same_length(**arrays: FloatArray) -> int:
    """Return the common length of the named arrays, or raise if any two differ."""
    lengths = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name}={length}" for name, length in lengths.items())
        raise ValueError(f"Input arrays must have the same length, got {detail}.")
    return next(iter(lengths.values()))


def check_period(value: object, name: str, minimum: int, maximum: int = MAX_PERIOD) -> int:
    """Validate an integer period against TA-Lib's accepted range [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    period = int(value)
    if period < minimum or period > maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {period}.")
    return period


def check_matype(value: object, name: str) -> int:
    """Validate a TA-Lib moving-average type code; only SMA (0), EMA (1) and WMA (2) are implemented."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer TA-Lib MA type code, got {value!r}.")
    code = int(value)
    if code not in SUPPORTED_MA_TYPES:
        label = TALIB_MA_NAMES.get(code, "unknown")
        raise ValueError(f"{name}={code} ({label}) is not supported; use 0 (SMA), 1 (EMA) or 2 (WMA).")
    return code


def check_real(value: object, name: str, lower: float = -MAX_REAL, upper: float = MAX_REAL) -> float:
    """Validate a finite real option inside TA-Lib's [lower, upper] range."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number) or number < lower or number > upper:
        raise ValueError(f"{name} must be a finite number between {lower:g} and {upper:g}, got {number!r}.")
    return number
