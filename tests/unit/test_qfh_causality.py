"""QFH is causal: outputs at bar t never change when later bars are appended or altered.

The original engine's window held the bit close[i+1] > close[i] when deciding candle i (a look-ahead leak),
and it sized its volatility thresholds from the last 100 bars of the whole file; both would fail these tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traderbot.indicators.qfh import qfh

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
N = 3_000
PARAM_SETS: list[dict[str, Any]] = [
    {},
    {"tie_rule": "repeat_prev", "use_temporal_factor": True},
    {"window": 16, "min_move_pips": 0.3, "conf_min": 0.45},
    {"window": 8, "volatility_adaptation": False},
]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    path = DATA / "histdata_fx_m1" / "EURUSD_1m.parquet"
    if not path.exists():
        pytest.skip(f"shared data file {path} is missing")
    return pd.read_parquet(path).iloc[300_000 : 300_000 + N].reset_index(drop=True)


def _run(df: pd.DataFrame, params: dict[str, Any]) -> dict[str, np.ndarray]:
    return qfh(df["open"], df["high"], df["low"], df["close"], pip_size=0.0001, **params).to_dict()


def _assert_same_prefix(short: dict[str, np.ndarray], full: dict[str, np.ndarray], cut: int) -> None:
    for name, values in short.items():
        np.testing.assert_array_equal(values, full[name][:cut], err_msg=name)


@pytest.mark.shared_data
@settings(max_examples=25, deadline=None)
@given(cut=st.integers(min_value=1, max_value=N - 1), which=st.sampled_from(range(len(PARAM_SETS))))
def test_appending_future_bars_never_changes_earlier_outputs(
    bars: pd.DataFrame, cut: int, which: int
) -> None:
    params = PARAM_SETS[which]
    _assert_same_prefix(_run(bars.iloc[:cut], params), _run(bars, params), cut)


@pytest.mark.shared_data
@settings(max_examples=25, deadline=None)
@given(t=st.integers(min_value=150, max_value=N - 2), which=st.sampled_from(range(len(PARAM_SETS))))
def test_changing_the_next_bar_never_changes_the_decision_at_t(
    bars: pd.DataFrame, t: int, which: int
) -> None:
    params = PARAM_SETS[which]
    shocked = bars.copy()
    shocked.loc[t + 1 :, ["open", "high", "low", "close"]] += 0.0050  # a 50-pip jump right after bar t
    shocked.loc[t + 1 :, "high"] += 0.0100
    before, after = _run(bars, params), _run(shocked, params)
    _assert_same_prefix({k: v[: t + 1] for k, v in after.items()}, before, t + 1)
    assert not np.array_equal(before["stability"], after["stability"], equal_nan=True)
