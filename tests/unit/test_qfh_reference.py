"""The numba QFH kernels against a plain-Python reading of the spec (shared/specs/qfh.md) on real bars."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from traderbot.indicators.qfh import qfh, resolve_qfh_params

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TOL = 1e-12
NEAR_TIE = 1e-9


def _bits(close: list[float], pip: float, min_move: float, repeat_prev: bool) -> list[int | None]:
    """Spec step 1; None marks an unknowable bit (bar 0, a NaN close, a repeat_prev tie after one)."""
    bits: list[int | None] = [None]
    for k in range(1, len(close)):
        d = (close[k] - close[k - 1]) / pip
        if math.isnan(d):
            bits.append(None)
        elif d > min_move:
            bits.append(1)
        elif d < -min_move:
            bits.append(0)
        else:
            bits.append(bits[k - 1] if repeat_prev else 0)
    return bits


def _counts(b: list[int]) -> tuple[int, int, int]:
    pairs = list(itertools.pairwise(b))
    return pairs.count((0, 0)), pairs.count((0, 1)) + pairs.count((1, 0)), pairs.count((1, 1))


def _entropy(b: list[int]) -> float:
    z, f, r = _counts(b)
    n = len(b) - 1
    total = 0.0
    for c in (z, f, r):
        if c > 0:
            total += (c / n) * math.log2(c / n)
    return min(max(-total / math.log2(3), 0.05), 1.0)


def _cos(a: list[float], b: list[float]) -> float:
    na = sum(x * x for x in a)
    nb = sum(y * y for y in b)
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.sqrt(na) * math.sqrt(nb))


def _coherence(b: list[int], p: dict[str, Any]) -> tuple[float, float]:
    """Spec steps 4-5 and C' of step 6 for one window: returns (C', V or NaN)."""
    w = len(b)
    _, f, r = _counts(b)
    h = _entropy(b)
    g = p["mix"][0] * p["a_pat"] * (1 - h) + p["mix"][1] * p["a_stab"] * (1 - r / (w - 1))
    g += p["mix"][2] * p["a_flip"] * (1 - f / (w - 1))
    c = min(max(p["squared_gain"] * (g * g), 0.0), 1.0)
    v = math.nan
    if w > 10:
        hp = _entropy(b[: min(p["trajectory_window"], w)])
        lam = min(max(p["k1"] * hp + p["k2"] * hp, 0.01), 1.0)
        path = [float(b[0])]
        for j in range(1, w):
            path.append(path[-1] + (b[j] - b[0]) * math.exp(-lam * j))
        first, last = path[0], path[-1]
        decay = [b[0] * math.exp(-0.1 * i) for i in range(w)]
        line = [first + (last - first) * i / (w - 1) for i in range(w)]
        wave = [(first + last) / 2 + (last - first) / 2 * math.sin(2 * math.pi * i / w) for i in range(w)]
        t = min(max(0.0, _cos(path, decay), _cos(path, line), _cos(path, wave)), 1.0)
        c = min(max((1 - p["trajectory_blend"]) * c + p["trajectory_blend"] * t, 0.0), 1.0)
        v = last
        if abs(v) < 2:
            c = c / (1 + 0.1 * abs(v))
    return 0.7 * c + 0.15, v


def _temporal(coh: list[float], t: int) -> float:
    if t < 15:
        return math.nan
    m5 = sum(coh[t - 5 : t]) / 5
    m15 = sum(coh[t - 15 : t]) / 15
    if math.isnan(m15) or math.isnan(coh[t]):
        return math.nan
    if abs(coh[t] - m5) < 0.1 and abs(m5 - m15) < 0.1:
        return 1.15
    return 1.08 if abs(coh[t] - m5) < 0.2 else 1.0


def reference_qfh(df: pd.DataFrame, pip: float, **params: Any) -> dict[str, np.ndarray]:
    """Every output of qfh(), one bar at a time, straight from the spec's text."""
    p = resolve_qfh_params(params)
    close, w = df["close"].tolist(), p["window"]
    rng = ((df["high"] - df["low"]) / pip).tolist()
    bits = _bits(close, pip, p["min_move_pips"], p["tie_rule"] == "repeat_prev")
    n = len(close)
    out = {
        k: [math.nan] * n for k in ("coh", "stab", "ent", "rr", "rf", "r0", "v", "buy", "sell", "m", "conf")
    }
    out["sig"] = [0] * n
    for t in range(w, n):
        b = bits[t - w + 1 : t + 1]
        if any(x is None for x in b):
            continue
        z, f, r = _counts(b)  # type: ignore[arg-type]
        out["r0"][t], out["rf"][t], out["rr"][t] = z / (w - 1), f / (w - 1), r / (w - 1)
        out["ent"][t] = _entropy(b) / 2  # type: ignore[arg-type]
        out["coh"][t], out["v"][t] = _coherence(b, p)  # type: ignore[arg-type]
        if t >= 20:
            s = (1 - r / (w - 1)) + 0.01 * (sum(rng[t - 20 : t]) / 20)
            out["stab"][t] = s if math.isnan(s) else min(1.0, s)
    for t in range(n):
        _score_and_decide(out, p, t, df["volume"].iloc[t], rng[max(0, t - 99) : t + 1])
    return {k: np.asarray(v, dtype=np.int8 if k == "sig" else np.float64) for k, v in out.items()}


def _score_and_decide(
    out: dict[str, list[Any]], p: dict[str, Any], t: int, vol: float, rng: list[float]
) -> None:
    """Spec steps 7-8 for bar t: writes scores, the multiplier m, the signal and its confidence into `out`."""
    s, c, e = out["stab"][t], out["coh"][t], out["ent"][t]
    buy = p["w_s"] * (1 - s) + p["w_c"] * c + p["w_e"] * (1 - e)
    sell = p["w_s"] * s + p["w_c"] * (1 - c) + p["w_e"] * e
    for on, factor in (
        (p["use_volume_factor"], min(max(0.85 + 0.3 * vol / 150, 0.7), 1.4)),
        (p["use_temporal_factor"], _temporal(out["coh"], t)),
    ):
        if on:
            buy, sell = buy * factor, sell * factor
    m = 1 + (sum(rng) / len(rng) - 10) * 0.02 if p["volatility_adaptation"] else 1.0
    m = m if math.isnan(m) else min(max(m, 0.8), 1.5)
    out["buy"][t], out["sell"][t], out["m"][t] = buy, sell, m
    if math.isnan(buy) or math.isnan(sell) or math.isnan(m):
        return
    side, conf = (
        (1, buy) if buy > p["buy_threshold"] * m else (-1, sell) if sell > p["sell_threshold"] * m else (0, 0)
    )
    if side and conf >= p["conf_min"] and c >= p["coh_min"] and s >= p["stab_min"]:
        out["sig"][t], out["conf"][t] = side, conf


def _near_tie(ref: dict[str, np.ndarray], p: dict[str, Any]) -> np.ndarray:
    """Bars whose decision sits within NEAR_TIE of a threshold, where 1-ulp libm differences may flip it."""
    gaps = [
        ref["buy"] - p["buy_threshold"] * ref["m"],
        ref["sell"] - p["sell_threshold"] * ref["m"],
        np.fmax(ref["buy"], ref["sell"]) - p["conf_min"],
        ref["coh"] - p["coh_min"],
        ref["stab"] - p["stab_min"],
    ]
    return np.any([np.abs(g) < NEAR_TIE for g in gaps], axis=0)


def _load(name: str, start: int, n: int) -> pd.DataFrame:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"shared data file {path} is missing")
    df = pd.read_parquet(path).iloc[start : start + n].reset_index(drop=True)
    assert len(df) == n
    return df


CASES = [
    ("histdata_fx_m1/EURUSD_1m.parquet", 0.0001, {}),
    ("histdata_fx_m1/EURUSD_1m.parquet", 0.0001, {"tie_rule": "repeat_prev", "min_move_pips": 0.5}),
    (
        "histdata_fx_m1/USDJPY_1m.parquet",
        0.01,
        {"window": 8, "conf_min": 0.5, "coh_min": 0.4, "stab_min": 0.6},
    ),
    (
        "histdata_fx_m1/GBPUSD_1m.parquet",
        0.0001,
        {"window": 16, "trajectory_window": 12, "k1": 0.9, "k2": 0.4, "use_temporal_factor": True},
    ),
    (
        "oanda_fx_m15/EURUSD_15m.parquet",
        0.0001,
        {"use_volume_factor": True, "volatility_adaptation": False, "mix": (0.2, 0.5, 0.3), "w_c": 0.3},
    ),
    (
        "histdata_fx_m1/XAUUSD_1m.parquet",
        0.1,
        {"tie_rule": "repeat_prev", "window": 24, "trajectory_window": 9},
    ),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "pip", "params"), CASES)
def test_kernel_matches_reference(name: str, pip: float, params: dict[str, Any]) -> None:
    df = _load(name, 200_000 if name.startswith("histdata") else 1_000, 2_500)
    _compare(df, pip, params)


@pytest.mark.shared_data
@pytest.mark.parametrize("params", [{}, {"tie_rule": "repeat_prev", "use_temporal_factor": True}])
def test_kernel_matches_reference_with_missing_values(params: dict[str, Any]) -> None:
    df = _load("histdata_fx_m1/EURUSD_1m.parquet", 250_000, 1_500)
    df.loc[[300, 301, 900], "close"] = np.nan
    df.loc[[500, 1200], "high"] = np.nan
    res = _compare(df, 0.0001, params)
    assert np.isnan(res.coherence[300:313]).all() and (res.signal[300:313] == 0).all()
    assert np.isnan(res.stability[501:521]).all() and (res.signal[500:600] == 0).all()
    if not params:
        assert np.isfinite(res.coherence[313]) and np.isfinite(res.stability[[500, 521]]).all()


def _compare(df: pd.DataFrame, pip: float, params: dict[str, Any]) -> Any:
    ref = reference_qfh(df, pip, **params)
    res = qfh(df["open"], df["high"], df["low"], df["close"], df["volume"], pip_size=pip, **params)
    pairs = {
        "coherence": "coh", "stability": "stab", "entropy": "ent", "rupture_ratio": "rr", "flip_ratio": "rf",
        "null_ratio": "r0", "damped": "v", "buy_score": "buy", "sell_score": "sell", "confidence": "conf",
    }  # fmt: skip
    tie = _near_tie(ref, resolve_qfh_params(params))
    assert tie.mean() < 0.01
    for name, key in pairs.items():
        a, b = res[name], ref[key]
        if name == "confidence":
            a, b = a[~tie], b[~tie]
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL, equal_nan=True, err_msg=name)
    np.testing.assert_array_equal(res.signal[~tie], ref["sig"][~tie])
    assert (res.signal != 0).sum() > 0
    return res
