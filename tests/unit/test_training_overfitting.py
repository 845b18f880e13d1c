"""Deflated Sharpe (Bailey & Lopez de Prado 2014) and PBO by CSCV (Bailey, Borwein, Lopez de Prado & Zhu 2015).

Expected values are recomputed here from the papers' formulas with scipy.stats, and checked by simulation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from traderbot.errors import UserError
from traderbot.training.overfitting import (
    deflated_sharpe,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe,
)

EULER_GAMMA = 0.5772156649015329


def paper_sr0(n: int, v: float) -> float:
    z = stats.norm.isf  # Z^-1(1 - p) = isf(p)
    return math.sqrt(v) * ((1 - EULER_GAMMA) * z(1 / n) + EULER_GAMMA * z(1 / (n * math.e)))


def test_expected_max_sharpe_matches_the_paper_and_a_simulation() -> None:
    assert expected_max_sharpe(1, 0.04) == 0.0  # one trial: nothing selected
    for n, v in ((2, 0.01), (10, 0.25), (100, 1.0), (1000, 0.003)):
        assert expected_max_sharpe(n, v) == pytest.approx(paper_sr0(n, v), rel=1e-12)
    maxima = np.random.default_rng(3).standard_normal((20_000, 100)).max(axis=1)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(maxima.mean(), rel=0.02)  # ~2.51 vs 2.53
    assert expected_max_sharpe(100, 0.04) == pytest.approx(0.2 * expected_max_sharpe(100, 1.0))
    with pytest.raises(ValueError, match="n_trials"):
        expected_max_sharpe(0, 1.0)


def test_probabilistic_sharpe_formula() -> None:
    sr, sr0, n, skew, kurt = 0.1, 0.03, 250, -0.8, 5.0
    z = (sr - sr0) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert probabilistic_sharpe(sr, sr0, n, skew, kurt) == pytest.approx(stats.norm.cdf(z))
    normal = probabilistic_sharpe(0.1, 0.0, 101, 0.0, 3.0)  # normal returns: var term 1 + SR^2 / 2
    assert normal == pytest.approx(stats.norm.cdf(0.1 * 10 / math.sqrt(1 + 0.005)))
    assert probabilistic_sharpe(0.1, 0.1, 50, 0.0, 3.0) == pytest.approx(0.5)
    assert math.isnan(probabilistic_sharpe(0.1, 0.0, 1, 0.0, 3.0))


def test_deflated_sharpe_against_the_paper() -> None:
    rng = np.random.default_rng(11)
    returns = rng.standard_t(5, 300) * 0.01 + 0.002
    trials = rng.normal(0.0, 0.05, 60)
    d = deflated_sharpe(returns, trials)
    sr = returns.mean() / returns.std(ddof=1)
    skew, kurt = stats.skew(returns), stats.kurtosis(returns, fisher=False)
    sr0 = paper_sr0(60, float(np.var(trials, ddof=1)))
    denom = math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert (d.n_trials, d.n_obs) == (60, 300)
    assert (
        d.sharpe == pytest.approx(sr) and d.skew == pytest.approx(skew) and d.kurtosis == pytest.approx(kurt)
    )
    assert d.sr0 == pytest.approx(sr0)
    assert d.psr == pytest.approx(stats.norm.cdf(sr * math.sqrt(299) / denom))
    assert d.dsr == pytest.approx(stats.norm.cdf((sr - sr0) * math.sqrt(299) / denom))
    assert 0.0 < d.dsr < d.psr < 1.0


def test_more_trials_raise_the_bar() -> None:
    returns = np.random.default_rng(5).normal(0.001, 0.01, 250)
    one = deflated_sharpe(returns, np.array([0.1]))
    assert one.sr0 == 0.0 and one.dsr == pytest.approx(one.psr)
    spread = np.random.default_rng(6).normal(0.0, 0.05, 1000)
    few, many = deflated_sharpe(returns, spread[:10]), deflated_sharpe(returns, spread)
    assert 0.0 < few.sr0 < many.sr0
    assert one.dsr > few.dsr > many.dsr


def test_pbo_of_pure_noise_is_a_coin_flip() -> None:
    values = []
    for seed in range(20):
        noise = np.random.default_rng(seed).normal(0.0, 0.01, (120, 30))
        values.append(pbo_cscv(noise, n_splits=8).pbo)
    assert 0.35 <= float(np.mean(values)) <= 0.65
    one = pbo_cscv(np.random.default_rng(42).normal(0.0, 0.01, (160, 40)))
    assert (one.n_splits, one.n_combinations, one.logits.shape) == (16, 12870, (12870,))
    assert 0.2 < one.oos_rank_median < 0.8


def test_pbo_of_a_real_edge_is_near_zero() -> None:
    perf = np.random.default_rng(1).normal(0.0, 0.01, (160, 40))
    perf[:, 7] += 0.006  # positive mean in every block
    p = pbo_cscv(perf)
    assert p.pbo < 0.1 and p.oos_rank_median > 0.9


def test_pbo_of_an_overfit_search_is_high() -> None:
    # every trial nets to zero over the sample, so a good in-sample half is mirrored by a bad out-of-sample half
    raw = np.random.default_rng(2).normal(0.0, 0.01, (160, 40))
    perf = raw - raw.mean(axis=0)
    p = pbo_cscv(perf)
    assert p.pbo > 0.5 and p.degradation_slope < 0 and p.oos_rank_median < 0.5


def test_pbo_two_blocks_by_hand() -> None:
    # trial 0 wins the first half and loses the second; trial 1 the opposite: whichever wins IS loses OOS
    perf = np.array([[1.0, -1.0], [2.0, 0.0], [-1.0, 1.0], [0.0, 2.0]])
    p = pbo_cscv(perf, n_splits=2, metric=lambda x: x.mean(axis=0))
    assert p.n_combinations == 2 and p.pbo == 1.0
    assert np.allclose(p.logits, math.log((1 / 3) / (2 / 3)))  # OOS rank 1 of 2 -> w = 1/3
    assert math.isnan(p.degradation_slope)  # both splits select at IS 1.5: no spread, NaN


def test_custom_metric_matches_the_vectorised_sharpe() -> None:
    perf = np.random.default_rng(9).normal(0.0002, 0.01, (60, 12))
    fast = pbo_cscv(perf, n_splits=8)
    slow = pbo_cscv(perf, n_splits=8, metric=lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1))
    assert np.allclose(fast.logits, slow.logits) and fast.pbo == slow.pbo


def test_full_size_search_completes() -> None:
    perf = np.random.default_rng(4).normal(0.0, 0.01, (130, 200))
    p = pbo_cscv(perf, n_splits=16)
    assert p.n_combinations == 12870 and 0.0 <= p.pbo <= 1.0 and np.all(np.isfinite(p.logits))


def test_bad_pbo_input_is_a_user_error() -> None:
    perf = np.zeros((20, 3)) + np.arange(60).reshape(20, 3)
    with pytest.raises(UserError, match="even number >= 2, got 7"):
        pbo_cscv(perf, n_splits=7)
    with pytest.raises(UserError, match="even number >= 2, got 0"):
        pbo_cscv(perf, n_splits=0)
    with pytest.raises(UserError, match="20 return periods cannot be split into 32 PBO blocks"):
        pbo_cscv(perf, n_splits=32)
    with pytest.raises(UserError, match="only 1 was given: run at least 2 trials"):
        pbo_cscv(perf[:, :1], n_splits=4)
    with pytest.raises(UserError, match="2-D"):
        pbo_cscv(perf[:, 0], n_splits=4)
