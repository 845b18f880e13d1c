"""QFH over whole real M1 files: every output stays inside the range its formula allows, for 3 pip sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from traderbot.analytics.qfh_stats import qfh_hit_rates
from traderbot.indicators.qfh import QfhResult, qfh

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PAIRS = [("EURUSD", 0.0001), ("USDJPY", 0.01), ("XAUUSD", 0.1)]


def _load(pair: str) -> pd.DataFrame:
    path = DATA / "histdata_fx_m1" / f"{pair}_1m.parquet"
    if not path.exists():
        pytest.skip(f"shared data file {path} is missing")
    return pd.read_parquet(path)


def _run(df: pd.DataFrame, pip: float, **params: object) -> QfhResult:
    return qfh(df["open"], df["high"], df["low"], df["close"], df["volume"], pip_size=pip, **params)


@pytest.mark.shared_data
@pytest.mark.parametrize(("pair", "pip"), PAIRS)
def test_outputs_stay_in_their_formula_ranges(pair: str, pip: float) -> None:
    df = _load(pair)
    res = _run(df, pip)
    n = len(df)
    assert all(v.shape == (n,) for v in res.to_dict().values())
    valid = np.isfinite(res.coherence)
    assert valid[11:].all() and not valid[:11].any()  # the files hold no NaN closes
    c, e, s = res.coherence[valid], res.entropy[valid], res.stability[20:]
    assert c.min() >= 0.15 and c.max() <= 0.85
    assert e.min() >= 0.025 and e.max() <= 0.5
    assert s.min() >= 0.0 and s.max() <= 1.0
    total = res.null_ratio + res.flip_ratio + res.rupture_ratio
    np.testing.assert_allclose(total[valid], 1.0, atol=1e-12)
    np.testing.assert_array_equal(res.collapse, res.rupture_ratio >= 0.3)
    assert set(np.unique(res.signal)) <= {-1, 0, 1}
    np.testing.assert_array_equal(np.isfinite(res.confidence), res.signal != 0)
    np.testing.assert_array_equal(res.confidence[res.signal == 1], res.buy_score[res.signal == 1])


@pytest.mark.shared_data
def test_pip_size_changes_ranges_but_not_bits_on_jpy() -> None:
    df = _load("USDJPY").iloc[:20_000]
    right, wrong = _run(df, 0.01), _run(df, 0.0001)  # 0.0001 is the original's hard-coded pip
    np.testing.assert_array_equal(right.coherence, wrong.coherence)
    assert np.nanmean(wrong.stability) > np.nanmean(right.stability)
    assert not np.array_equal(right.signal, wrong.signal)


@pytest.mark.shared_data
def test_hit_rate_report_covers_every_bar_but_the_last() -> None:
    df = _load("EURUSD")
    res = _run(df, 0.0001, conf_min=0.6)
    report = qfh_hit_rates(df["close"], res.signal, 0.0001)
    assert report["bars"] == len(df) - 1
    assert report["buy_count"] + report["sell_count"] == int((res.signal[:-1] != 0).sum())
    assert 0.0 < report["base_up"] < 1.0 and 0.0 < report["base_down"] < 1.0
    assert 0.0 <= report["hit_rate"] <= 1.0
