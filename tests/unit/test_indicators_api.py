"""Public API of traderbot.indicators: exports, TA-Lib-compatible signatures, argument checks, warm-ups."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib
from talib import abstract as _abstract

import traderbot.indicators as ti

abstract: Any = _abstract  # talib.abstract's stub omits Function

N = 300
RNG = np.random.default_rng(11)
CLOSE = 50.0 + RNG.normal(0.0, 1.0, N).cumsum()
HIGH = CLOSE + RNG.random(N)
LOW = CLOSE - RNG.random(N)

TALIB_NAMES = {
    "sma": "SMA",
    "ema": "EMA",
    "wma": "WMA",
    "rsi": "RSI",
    "stoch": "STOCH",
    "stoch_rsi": "STOCHRSI",
    "macd": "MACD",
    "bollinger": "BBANDS",
    "atr": "ATR",
    "adx": "ADX",
    "roc": "ROC",
}
HLC = {"stoch", "atr", "adx"}


def _call(name: str, **params: Any) -> tuple[np.ndarray, ...]:
    fn = getattr(ti, name)
    args = (HIGH, LOW, CLOSE) if name in HLC else (CLOSE,)
    out = fn(*args, **params)
    return out if isinstance(out, tuple) else (out,)


def _leading_nans(values: np.ndarray) -> int:
    finite = np.flatnonzero(~np.isnan(values))
    return int(finite[0]) if finite.size else values.size


def test_all_exports_every_indicator() -> None:
    expected = set(TALIB_NAMES) | {"zscore", "rolling_volatility"}
    assert expected <= set(ti.__all__)  # other engineers' indicators (e.g. qfh) may be exported too
    for name in ti.__all__:
        assert callable(getattr(ti, name))


@pytest.mark.parametrize("name", sorted(TALIB_NAMES))
def test_signature_follows_talib_names_order_and_defaults(name: str) -> None:
    ours = inspect.signature(getattr(ti, name)).parameters
    theirs = inspect.signature(getattr(talib, TALIB_NAMES[name])).parameters
    assert list(ours) == list(theirs)
    talib_defaults = dict(abstract.Function(TALIB_NAMES[name]).parameters)
    for param, default in talib_defaults.items():
        assert ours[param].default == default, param


@pytest.mark.parametrize(
    ("name", "params", "warmup"),
    [
        ("sma", {"timeperiod": 30}, 29),
        ("ema", {"timeperiod": 30}, 29),
        ("wma", {"timeperiod": 30}, 29),
        ("sma", {"timeperiod": 1}, 0),
        ("rsi", {"timeperiod": 14}, 14),
        ("roc", {"timeperiod": 10}, 10),
        ("atr", {"timeperiod": 14}, 14),
        ("atr", {"timeperiod": 1}, 1),
        ("adx", {"timeperiod": 14}, 27),
        ("bollinger", {"timeperiod": 5}, 4),
        ("macd", {}, 33),
        ("macd", {"fastperiod": 26, "slowperiod": 12, "signalperiod": 1}, 25),
        ("stoch", {}, 8),
        ("stoch", {"fastk_period": 14, "slowk_period": 1, "slowd_period": 1}, 13),
        ("stoch_rsi", {}, 20),
        ("stoch_rsi", {"timeperiod": 9, "fastk_period": 1, "fastd_period": 1}, 9),
    ],
)
def test_warmup_is_talib_lookback(name: str, params: dict[str, Any], warmup: int) -> None:
    outputs = _call(name, **params)
    for out in outputs:
        assert out.dtype == np.float64 and out.shape == (N,)
        assert _leading_nans(out) == warmup
        assert not np.isnan(out[warmup:]).any()


def test_zscore_and_volatility_warmups() -> None:
    assert _leading_nans(ti.zscore(CLOSE, 20)) == 19
    assert _leading_nans(ti.rolling_volatility(CLOSE, 20)) == 20


@pytest.mark.parametrize(
    "convert",
    [list, tuple, pd.Series, lambda a: np.repeat(a, 2)[::2]],
    ids=["list", "tuple", "series", "strided-view"],
)
def test_accepts_any_array_like(convert: Callable[[np.ndarray], Any]) -> None:
    np.testing.assert_array_equal(ti.sma(convert(CLOSE), 5), ti.sma(CLOSE, 5))
    slowk, slowd = ti.stoch(convert(HIGH), convert(LOW), convert(CLOSE))
    ref_k, ref_d = ti.stoch(HIGH, LOW, CLOSE)
    np.testing.assert_array_equal(slowk, ref_k)
    np.testing.assert_array_equal(slowd, ref_d)


def test_integer_input_is_converted_to_float64() -> None:
    out = ti.sma(np.arange(10), 3)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[2:], np.arange(1.0, 9.0))


@pytest.mark.parametrize("name", sorted(set(TALIB_NAMES) | {"zscore", "rolling_volatility"}))
def test_empty_and_too_short_inputs_give_all_nan(name: str) -> None:
    fn = getattr(ti, name)
    for length in (0, 1, 3):
        args = [np.linspace(1.0, 2.0, length)] * (3 if name in HLC else 1)
        out = fn(*args)
        for series in out if isinstance(out, tuple) else (out,):
            assert series.shape == (length,)
            assert np.isnan(series).all()


BAD_ARGUMENTS = [
    (ti.sma, (CLOSE,), {"timeperiod": 0}, "timeperiod must be between 1 and 100000"),
    (ti.ema, (CLOSE,), {"timeperiod": 100_001}, "timeperiod must be between 1 and 100000"),
    (ti.wma, (CLOSE,), {"timeperiod": 2.5}, "timeperiod must be an integer"),
    (ti.wma, (CLOSE,), {"timeperiod": True}, "timeperiod must be an integer"),
    (ti.rsi, (CLOSE,), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.roc, (CLOSE,), {"timeperiod": -3}, "timeperiod must be between 1 and 100000"),
    (ti.macd, (CLOSE,), {"fastperiod": 1}, "fastperiod must be between 2 and 100000"),
    (ti.macd, (CLOSE,), {"signalperiod": 0}, "signalperiod must be between 1 and 100000"),
    (ti.bollinger, (CLOSE,), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.bollinger, (CLOSE,), {"nbdevup": float("nan")}, "nbdevup must be a finite number"),
    (ti.bollinger, (CLOSE,), {"nbdevdn": 1e38}, "nbdevdn must be a finite number"),
    (ti.bollinger, (CLOSE,), {"matype": 3}, "matype=3 (DEMA) is not supported"),
    (ti.bollinger, (CLOSE,), {"matype": 42}, "matype=42 (unknown) is not supported"),
    (ti.stoch, (HIGH, LOW, CLOSE), {"fastk_period": 0}, "fastk_period must be between 1 and 100000"),
    (ti.stoch, (HIGH, LOW, CLOSE), {"slowk_matype": 8}, "slowk_matype=8 (T3) is not supported"),
    (ti.stoch, (HIGH, LOW, CLOSE), {"slowd_matype": "0"}, "slowd_matype must be an integer"),
    (ti.stoch_rsi, (CLOSE,), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.stoch_rsi, (CLOSE,), {"fastd_matype": 5}, "fastd_matype=5 (TRIMA) is not supported"),
    (ti.atr, (HIGH, LOW, CLOSE), {"timeperiod": 0}, "timeperiod must be between 1 and 100000"),
    (ti.adx, (HIGH, LOW, CLOSE), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.atr, (HIGH, LOW[:-1], CLOSE), {}, "Input arrays must have the same length"),
    (ti.stoch, (HIGH, LOW, CLOSE[:10]), {}, "Input arrays must have the same length"),
    (ti.adx, (HIGH[:5], LOW, CLOSE), {}, "Input arrays must have the same length"),
    (ti.sma, (CLOSE.reshape(20, 15),), {}, "real must be one-dimensional"),
    (ti.sma, (["a", "b"],), {}, "real must be a 1-D sequence of numbers"),
    (ti.zscore, (CLOSE,), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.rolling_volatility, (CLOSE,), {"timeperiod": 1}, "timeperiod must be between 2 and 100000"),
    (ti.rolling_volatility, (CLOSE,), {"annualization": 0.0}, "annualization must be positive"),
    (ti.rolling_volatility, (CLOSE,), {"annualization": -252.0}, "annualization must be a finite number"),
    (ti.rolling_volatility, (CLOSE,), {"annualization": float("inf")}, "annualization must be a finite"),
]


@pytest.mark.parametrize(("fn", "args", "kwargs", "message"), BAD_ARGUMENTS)
def test_bad_arguments_raise_one_clear_value_error(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert text.endswith(".") and text.count(". ") == 0  # one sentence


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("sma", "timeperiod"),
        ("ema", "timeperiod"),
        ("wma", "timeperiod"),
        ("rsi", "timeperiod"),
        ("roc", "timeperiod"),
        ("atr", "timeperiod"),
        ("adx", "timeperiod"),
        ("bollinger", "timeperiod"),
        ("macd", "fastperiod"),
        ("macd", "slowperiod"),
        ("macd", "signalperiod"),
        ("stoch", "fastk_period"),
        ("stoch", "slowk_period"),
        ("stoch", "slowd_period"),
        ("stoch_rsi", "timeperiod"),
        ("stoch_rsi", "fastk_period"),
        ("stoch_rsi", "fastd_period"),
    ],
)
@pytest.mark.parametrize("value", [-1, 0, 1, 2, 100_000, 100_001])
def test_accepted_period_range_equals_talibs(name: str, param: str, value: int) -> None:
    args = (HIGH, LOW, CLOSE) if name in HLC else (CLOSE,)
    talib_fn = getattr(talib, TALIB_NAMES[name])
    try:
        talib_fn(*args, **{param: value})
        talib_accepts = True
    except Exception:
        talib_accepts = False
    if talib_accepts:
        getattr(ti, name)(*args, **{param: value})
    else:
        with pytest.raises(ValueError, match=param):
            getattr(ti, name)(*args, **{param: value})


def test_inputs_are_not_modified() -> None:
    close = CLOSE.copy()
    close[7] = np.nan
    before = close.copy()
    for name in ("sma", "rsi", "macd", "bollinger", "stoch_rsi", "zscore", "rolling_volatility"):
        getattr(ti, name)(close)
    np.testing.assert_array_equal(close, before)
