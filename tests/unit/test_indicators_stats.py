"""zscore and rolling_volatility against a straightforward pandas reference (no TA-Lib equivalent)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import traderbot.indicators as ti


def _window_z(window: np.ndarray) -> float:
    """(x_t - mean) / std, NaN for a flat window: std <= 1e-14 * RMS (equal up to rounding)."""
    mean, std = window.mean(), window.std(ddof=0)
    flat = std <= 1e-14 * np.sqrt(mean * mean + std * std)
    return np.nan if flat else float((window[-1] - mean) / std)


def zscore_reference(values: np.ndarray, period: int) -> np.ndarray:
    """pandas rolling window, each window computed two-pass: (x_t - mean) / population std."""
    series = pd.Series(values)
    return series.rolling(period).apply(_window_z, raw=True).to_numpy()


def volatility_reference(close: np.ndarray, period: int, annualization: float) -> np.ndarray:
    """pandas: sample std (ddof=1) of log(C_t / C_{t-1}) over `period` returns, times sqrt(annualization)."""
    series = pd.Series(close)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of a non-positive price -> NaN
        returns = pd.Series(np.log(series / series.shift(1)))
    std = returns.rolling(period).apply(lambda w: w.std(ddof=1), raw=True)
    return (std * np.sqrt(annualization)).to_numpy()


def _walk(n: int, seed: int, level: float = 1.1, step: float = 1e-4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    moves = np.round(rng.normal(0.0, 1.0, n) * (rng.random(n) < 0.7), 0) * step  # a price grid, flat bars
    return level + moves.cumsum()


@pytest.mark.parametrize("period", [2, 3, 20, 100])
@pytest.mark.parametrize("seed", [0, 1])
def test_zscore_matches_pandas(period: int, seed: int) -> None:
    x = _walk(3_000, seed)
    got, want = ti.zscore(x, period), zscore_reference(x, period)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = ~np.isnan(want)
    # z is O(1); both sides round the window mean at ~1e-16 of the price level, i.e. ~1e-11 in z units.
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("period", [2, 3, 20, 100])
@pytest.mark.parametrize("annualization", [1.0, 252.0, 525_600.0])
def test_rolling_volatility_matches_pandas(period: int, annualization: float) -> None:
    close = _walk(3_000, period)
    got, want = (
        ti.rolling_volatility(close, period, annualization),
        volatility_reference(close, period, annualization),
    )
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    valid = ~np.isnan(want)
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-15)


def test_zscore_of_a_flat_window_is_nan_and_recovers() -> None:
    x = np.array([1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0, 6.0, 7.0])
    x[5] = np.nextafter(5.0, 6.0)  # one ulp of spread is still a flat window
    z = ti.zscore(x, 3)
    assert np.isnan(z[:2]).all() and np.isnan(z[5:7]).all()
    np.testing.assert_allclose(z[2], np.sqrt(1.5))  # (3 - 2) / sqrt(2/3)
    np.testing.assert_allclose(z[7], np.sqrt(2.0))  # window [5, 5, 6]
    np.testing.assert_allclose(z, zscore_reference(x, 3), equal_nan=True)


def test_volatility_of_flat_prices_is_exactly_zero() -> None:
    close = np.concatenate([np.linspace(1.0, 1.2, 30), np.full(30, 1.2)])
    vol = ti.rolling_volatility(close, 5)
    assert (vol[35:] == 0.0).all()
    assert (vol[5:30] > 0.0).all()


def test_annualization_scales_by_its_square_root() -> None:
    close = _walk(500, 9)
    np.testing.assert_allclose(
        ti.rolling_volatility(close, 20, 252.0), ti.rolling_volatility(close, 20) * np.sqrt(252.0)
    )


def test_nan_and_non_positive_prices_only_blank_their_windows() -> None:
    close = _walk(400, 4)
    close[100] = np.nan
    close[250] = 0.0
    close[300] = -1.0
    got, want = ti.rolling_volatility(close, 10, 252.0), volatility_reference(close, 10, 252.0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[100:111]).all() and not np.isnan(got[111:250]).any()
    valid = ~np.isnan(want)
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-9, atol=1e-15)
    x = _walk(400, 5)
    x[[30, 31, 200]] = [np.nan, np.inf, np.nan]
    z, z_ref = ti.zscore(x, 10), zscore_reference(np.where(np.isfinite(x), x, np.nan), 10)
    np.testing.assert_array_equal(np.isnan(z), np.isnan(z_ref))
    np.testing.assert_allclose(z[~np.isnan(z)], z_ref[~np.isnan(z)], rtol=1e-9, atol=1e-9)
